import type { FastifyBaseLogger } from 'fastify';

import type { Config } from '../../config/config.schema.js';
import { ipKey, type IpAddress } from '../ip-address.js';
import { ReloadingList } from '../reloading-list.js';
import { parseTorExitList } from './tor-exit-list.js';

type TorConfig = Pick<Config, 'TOR_EXIT_LIST_FILE' | 'TOR_ACTION' | 'PERIMETER_FILE_CHECK_MS'>;

/** Action taken on requests from a listed Tor exit relay. */
export type TorAction = Config['TOR_ACTION'];

/** The Tor exit relay addresses of TOR_EXIT_LIST_FILE, loaded again when the file changes. */
export class TorExits {
  private constructor(
    private readonly list: ReloadingList<ReadonlySet<string>>,
    readonly action: TorAction,
  ) {}

  /**
   * Loads TOR_EXIT_LIST_FILE; returns null when it is unset or TOR_ACTION is `allow`.
   *
   * @throws ConfigError when the file cannot be read or has an invalid line.
   */
  static async open(config: TorConfig, logger: FastifyBaseLogger): Promise<TorExits | null> {
    if (!config.TOR_EXIT_LIST_FILE || config.TOR_ACTION === 'allow') return null;
    const list = await ReloadingList.open({
      variable: 'TOR_EXIT_LIST_FILE',
      listName: 'Tor exit list',
      paths: [config.TOR_EXIT_LIST_FILE],
      parse: parseTorExitList,
      summarize: (addresses) => ({ addresses: addresses.size, action: config.TOR_ACTION }),
      checkIntervalMs: config.PERIMETER_FILE_CHECK_MS,
      logger,
    });
    return new TorExits(list, config.TOR_ACTION);
  }

  /** Returns true when `address` is a listed exit relay. */
  isExit(address: IpAddress | null): boolean {
    return address !== null && this.list.current.has(ipKey(address));
  }

  /** Stops watching the list file. */
  stop(): void {
    this.list.stop();
  }
}
