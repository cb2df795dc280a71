/**
 * Regenerates `common-passwords.txt`: run `npx tsx src/data/breached-passwords/generate-list.ts`.
 *
 * No package installed in this repository ships a breached-password list, so the list is
 * composed here from well-known most-used passwords. It adds the patterns people use to pass a
 * composition rule: a word or season plus a year, a keyboard walk, a word plus `!`.
 * It is not a copy of any published breach corpus.
 */
import { writeFileSync } from 'node:fs';

/** Passwords that top every published most-used list, as commonly reported. */
const TOP_PASSWORDS = `123456 password 123456789 12345678 12345 qwerty 1234567 111111 1234567890 123123
abc123 1234 password1 iloveyou 1q2w3e4r 000000 qwerty123 zaq12wsx dragon sunshine princess
letmein 654321 monkey 27653 1qaz2wsx 123321 qwertyuiop superman asdfghjkl trustno1 football
baseball welcome shadow master michael jennifer hunter ashley charlie freedom whatever
passw0rd p@ssw0rd p@ssword pa$$word admin administrator root toor changeme default guest
login access secret letmein! welcome1 welcome123 starwars batman pokemon computer internet
hello hello123 soccer hockey jordan23 mustang harley ranger buster thomas tigger robert
daniel andrew joshua matthew jessica hannah amanda michelle nicole jordan liverpool chelsea
arsenal killer pepper ginger summer winter spring autumn fall cookie cheese banana orange
purple silver golden diamond flower maggie bailey sophie lovely loveme iloveu fuckyou
123qwe qwe123 1qazxsw2 q1w2e3r4 q1w2e3r4t5 1q2w3e 1q2w3e4r5t 1q2w3e4r5t6y zxcvbnm asdfgh
asdf1234 qazwsx 123abc abcd1234 aa123456 a123456 123456a 12qwaszx azerty qwertz
11111111 00000000 88888888 987654321 147258369 123654 159753 7777777 666666 121212 112233
secret123 test test123 testing demo sample temp temp123 user user123 admin123 admin1234
root123 password123 password1234 passwort motdepasse contrasena senha parola wachtwoord
letmein123 trustno1! iloveyou1 princess1 sunshine1 monkey123 dragon123 football1 qwerty1
master123 superman1 batman123 shadow123 michael1 charlie1 jesus jesus1 god blessed angel
angel1 lucky lucky7 money money123 love love123 baby babygirl family family1 forever
friends hottie flower1 buttercup cupcake chocolate butterfly rainbow unicorn whatever1
starwars1 matrix hacker security security1 cisco oracle mysql postgres server network
office office365 microsoft windows apple google facebook linkedin twitter amazon netflix
spotify github gitlab docker kubernetes jenkins ubuntu linux redhat vmware`;

const BASE_WORDS = `password passw0rd p@ssw0rd p@ssword pa55word welcome welc0me admin administrator
letmein qwerty qwertyuiop asdfgh zxcvbn monkey dragon sunshine princess football baseball
soccer hockey summer winter spring autumn fall january february march april may june july
august september october november december monday friday sunday changeme secret master
shadow superman batman starwars pokemon iloveyou love hello freedom liberty america london
paris berlin london newyork chicago company business office manager account finance
security support service system server network database cloud mindweave acme contoso
fabrikam initech globex umbrella corporate enterprise employee student teacher school
college university spring trustno1 charlie michael jennifer jessica ashley hunter thomas
daniel andrew joshua matthew robert william david richard joseph james john george
chelsea arsenal liverpool barcelona madrid juventus yankees cowboys lakers eagles tigers
lions bears rangers maverick phoenix falcon jaguar ferrari porsche mercedes toyota honda
guitar music cookie chocolate orange banana cherry flower purple silver golden diamond
computer internet welcome1 happy lucky angel blessed jesus heaven`;

/** Rows of common keyboard layouts, for walks such as `qwerty` or `1qaz2wsx`. */
const KEYBOARD_WALKS = `qwerty qwertyu qwertyui qwertyuiop asdfgh asdfghj asdfghjk asdfghjkl zxcvbn
zxcvbnm qazwsx qazwsxedc 1qaz2wsx 1qaz2wsx3edc zaq12wsx zaq1xsw2 1q2w3e4r 1q2w3e4r5t
1q2w3e4r5t6y q1w2e3r4 q1w2e3r4t5 azerty azertyuiop qwertz qwertzuiop 123qwe 123qweasd
123qweasdzxc qweasd qweasdzxc !qaz2wsx 1qazxsw2 2wsx3edc qwer1234 asdf1234 zxcv1234
1234qwer 1234asdf !qaz@wsx #edc$rfv poiuytrewq lkjhgfdsa mnbvcxz 0987654321 09876
1234567890-= !@#$%^&*() !@#$%^ 123!@# 1qa2ws3ed qwe!@# qwerty!@# 147258 147852 258456
159357 753951 951753 789456 456789 741852963 963852741 zxcasdqwe qscwdv`;

const SUFFIXES = [
  '', '1', '12', '123', '1234', '12345', '123456', '!', '!!', '1!', '12!', '123!', '1234!',
  '@', '@1', '@123', '#', '#1', '$', '*', '?', '.', '01', '007', '69', '99', '00', '11', '22',
  '1!@', '!1', '!123', '123@', '@2', '_1', '-1',
];

/** Words that people most often combine with a year, as in `Summer2024!` or `Welcome@25`. */
const YEAR_WORDS = `password passw0rd p@ssw0rd welcome welc0me admin letmein qwerty changeme secret
summer winter spring autumn fall january february march april may june july august september
october november december monday friday company business office security support service
system server network mindweave acme contoso fabrikam globex initech corporate enterprise
employee student school college football soccer baseball hockey monkey dragon sunshine
princess iloveyou love hello freedom`;

const YEARS: string[] = [];
for (let year = 2010; year <= 2030; year++) YEARS.push(String(year));
const SHORT_YEARS = YEARS.map((year) => year.slice(2));
const YEAR_SYMBOLS = ['', '!', '@', '#', '$', '*', '.'];

function words(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

const entries = new Set<string>();
const add = (value: string) => {
  if (value.length >= 4 && value.length <= 64) entries.add(value.toLowerCase());
};

for (const word of [...words(TOP_PASSWORDS), ...words(KEYBOARD_WALKS)]) {
  for (const suffix of SUFFIXES) add(word + suffix);
}
for (const word of words(BASE_WORDS)) {
  for (const suffix of SUFFIXES) add(word + suffix);
}
for (const word of words(YEAR_WORDS)) {
  for (const year of [...YEARS, ...SHORT_YEARS]) {
    for (const symbol of YEAR_SYMBOLS) {
      add(word + year + symbol);
      if (symbol) add(word + symbol + year);
    }
  }
}

// eslint-disable-next-line security/detect-non-literal-fs-filename -- a file of this module
writeFileSync(
  new URL('./common-passwords.txt', import.meta.url),
  [...entries].sort().join('\n') + '\n',
  'utf8',
);
console.log(`wrote ${entries.size} passwords`);
