import { HDNodeWallet, Mnemonic, type Provider } from "ethers";
import { DEV_MNEMONIC } from "../chain/evm";
import type { RoleName } from "../chain/roles";

/**
 * The demo consortium on the standard test mnemonic (README lists it). Account indexes:
 * 0 consortium admin (governor); 1 producer; 2 processor; 3 second processor; 4 carrier;
 * 5 distributor; 6 retailer; 7 auditor; 8 certifier; 9 the service's relayer key;
 * 10–17 the integration keys of organisations 1–8 (the key each member's service maps
 * EPCIS and ERP data with). Prefixes are in real GS1 member-organisation ranges.
 */
export interface DemoMember {
  key: string;
  account: number;
  integrationAccount: number;
  name: string;
  companyPrefixes: string[];
  /** Location references; GLNs are built from the first prefix. */
  locations: number[];
  allowedRoles: RoleName[];
  metadata: { country: string; kind: string; website: string };
}

export const GOVERNOR_ACCOUNT = 0;
export const RELAYER_ACCOUNT = 9;

export const DEMO_MEMBERS: DemoMember[] = [
  {
    key: "producer", account: 1, integrationAccount: 10, name: "Alpenmilch Hof GmbH", companyPrefixes: ["4012345"],
    locations: [1, 2], allowedRoles: ["producer", "carrier"],
    metadata: { country: "DE", kind: "dairy farm cooperative", website: "https://alpenmilch.example" },
  },
  {
    key: "processor", account: 2, integrationAccount: 11, name: "Brabant Dairy Processing NV", companyPrefixes: ["5412345"],
    locations: [1, 2], allowedRoles: ["processor", "producer", "receiver", "buyer"],
    metadata: { country: "BE", kind: "dairy processor", website: "https://brabant-dairy.example" },
  },
  {
    key: "processor2", account: 3, integrationAccount: 12, name: "Lyon Fromagerie SA", companyPrefixes: ["3012345"],
    locations: [1], allowedRoles: ["processor", "producer", "receiver", "buyer"],
    metadata: { country: "FR", kind: "cheese maker", website: "https://lyon-fromagerie.example" },
  },
  {
    key: "carrier", account: 4, integrationAccount: 13, name: "Rijnvaart Cold Logistics BV", companyPrefixes: ["8712345"],
    locations: [1, 2, 3], allowedRoles: ["carrier", "receiver"],
    metadata: { country: "NL", kind: "refrigerated carrier", website: "https://rijnvaart.example" },
  },
  {
    key: "distributor", account: 5, integrationAccount: 14, name: "Helvetia Food Distribution AG", companyPrefixes: ["7612345"],
    locations: [1], allowedRoles: ["receiver", "buyer", "carrier"],
    metadata: { country: "CH", kind: "food distributor", website: "https://helvetia-food.example" },
  },
  {
    key: "retailer", account: 6, integrationAccount: 15, name: "FreshMart Supermarkets SpA", companyPrefixes: ["8012345"],
    locations: [1, 2, 3], allowedRoles: ["receiver", "buyer"],
    metadata: { country: "IT", kind: "grocery retailer", website: "https://freshmart.example" },
  },
  {
    key: "auditor", account: 7, integrationAccount: 16, name: "Food Safety Audit Bureau", companyPrefixes: ["9012345"],
    locations: [1], allowedRoles: ["auditor"],
    metadata: { country: "AT", kind: "food safety auditor", website: "https://fsab.example" },
  },
  {
    key: "certifier", account: 8, integrationAccount: 17, name: "EcoCert Europe", companyPrefixes: ["5701234"],
    locations: [1], allowedRoles: ["certifier", "auditor"],
    metadata: { country: "DK", kind: "organic and ISO certification body", website: "https://ecocert-europe.example" },
  },
];

/** The demo accounts' parent key (m/44'/60'/0'/0), derived once: each derivation from the phrase costs a PBKDF2 of 2,048 rounds. */
let accounts: HDNodeWallet | undefined;
const wallets = new Map<number, HDNodeWallet>();

export function demoWallet(index: number, provider?: Provider): HDNodeWallet {
  let wallet = wallets.get(index);
  if (!wallet) {
    accounts ??= HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), "m/44'/60'/0'/0");
    // The same key, path and mnemonic as fromMnemonic(phrase, m/44'/60'/0'/0/index); wallets are immutable, so shared.
    wallets.set(index, (wallet = accounts.deriveChild(index)));
  }
  return provider ? wallet.connect(provider) : wallet;
}
