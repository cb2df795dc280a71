import type { FastifyBaseLogger } from 'fastify';

import type { Config } from '../../config/config.schema.js';
import { ConfigError } from '../../config/load-config.js';
import type { IpAddress } from '../ip-address.js';
import { ReloadingList } from '../reloading-list.js';
import { parseGeoCsv } from './geo-csv.js';
import type { GeoDatabase } from './geo-database.js';

type GeoConfig = Pick<Config, 'GEO_BLOCK_COUNTRIES' | 'GEOIP_DB_FILE' | 'PERIMETER_FILE_CHECK_MS'>;

/** Refuses clients whose address the IP-to-country database places in a blocked country. */
export class GeoBlocking {
  private constructor(
    private readonly database: ReloadingList<GeoDatabase>,
    private readonly blocked: ReadonlySet<string>,
  ) {}

  /**
   * Loads the database when GEO_BLOCK_COUNTRIES lists countries; returns null when it lists
   * none.
   *
   * @throws ConfigError when countries are listed without GEOIP_DB_FILE, or a database file
   * cannot be read or has an invalid line.
   */
  static async open(config: GeoConfig, logger: FastifyBaseLogger): Promise<GeoBlocking | null> {
    const countries = config.GEO_BLOCK_COUNTRIES ?? [];
    if (countries.length === 0) return null;
    if (!config.GEOIP_DB_FILE?.length) {
      throw new ConfigError(
        'GEO_BLOCK_COUNTRIES',
        'is set but GEOIP_DB_FILE is not: name the IP-to-country CSV file to look addresses up in',
      );
    }
    const blocked = new Set(countries);
    const database = await ReloadingList.open({
      variable: 'GEOIP_DB_FILE',
      listName: 'GeoIP database',
      paths: config.GEOIP_DB_FILE,
      parse: parseGeoCsv,
      summarize: (list) => ({
        ipv4Ranges: list.size.ipv4,
        ipv6Ranges: list.size.ipv6,
        blockedCountries: countries,
        // A code the database never returns, such as UK for GB, would never match.
        blockedCountriesNotInDatabase: countries.filter((code) => !list.countries.has(code)),
      }),
      checkIntervalMs: config.PERIMETER_FILE_CHECK_MS,
      logger,
    });
    return new GeoBlocking(database, blocked);
  }

  /**
   * Returns the rule id that blocks `address` (`geo:RU`), or null when it may pass. An address
   * that cannot be parsed is blocked as `geo:invalid-address`, because its country is unknown.
   * Addresses the database does not list, such as private ranges, pass.
   */
  blockingRule(address: IpAddress | null): string | null {
    if (address === null) return 'geo:invalid-address';
    const country = this.database.current.lookup(address);
    return country !== null && this.blocked.has(country) ? `geo:${country}` : null;
  }

  /** Stops watching the database files. */
  stop(): void {
    this.database.stop();
  }
}
