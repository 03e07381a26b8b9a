import type { Command } from "commander";
import type { HDNodeWallet, Wallet } from "ethers";
import { unitToBytes3 } from "../provenance/quantity";
import { signInMessage, type SignInChallenge } from "../identity/sign-in-message";
import { apiGet, apiPost, CliError } from "./client";
import { gtinArg, wholeNumberArg } from "./args";
import { actor, signing, type Print } from "./batch-cmd";
import type { SignerOptions } from "./keystore";

/**
 * Sign-In with Ethereum (EIP-4361) as the API expects it: a nonce for the address, a message
 * naming the domain, URI and chain id the nonce response gives, signed; returns the bearer token.
 */
export async function signIn(signer: Wallet | HDNodeWallet): Promise<string> {
  const challenge = await apiPost<SignInChallenge>("/api/v1/auth/nonce", { address: signer.address });
  const message = signInMessage(challenge, signer.address);
  const signature = await signer.signMessage(message);
  const session = await apiPost<{ token: string }>("/api/v1/auth/login", { message, signature });
  return session.token;
}

function temperature(raw: string, option: string): number {
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(raw)) throw new CliError(`${option} must be a temperature in °C, got "${raw}"`);
  return Number(raw);
}

export function registerProductCommands(program: Command, print: Print): void {
  const product = program.command("product").description("products (GTINs) of your organisation");

  signing(
    product
      .command("register")
      .description("store a product's master data with the service and register the GTIN on-chain with its hash")
      .requiredOption("--gtin <gtin>", "GTIN under one of your organisation's GS1 company prefixes")
      .requiredOption("--name <name>", "product name")
      .requiredOption("--unit <code>", "UN/CEFACT Rec 20 unit of its quantities (KGM, LTR, H87, …)")
      .option("--description <text>", "description")
      .option("--brand <brand>", "brand")
      .option("--country <code>", "country of origin (ISO 3166 alpha-2)")
      .option("--shelf-life-days <n>", "shelf life in days")
      .option("--min-temp <celsius>", "lowest storage temperature (with --max-temp)")
      .option("--max-temp <celsius>", "highest storage temperature (with --min-temp)"),
  ).action(
    async (
      opts: SignerOptions & {
        gtin: string;
        name: string;
        unit: string;
        description?: string;
        brand?: string;
        country?: string;
        shelfLifeDays?: string;
        minTemp?: string;
        maxTemp?: string;
      },
    ) => {
      const gtin = gtinArg(opts.gtin);
      const unit = opts.unit.toUpperCase();
      let unitBytes: string;
      try {
        unitBytes = unitToBytes3(unit);
      } catch (err) {
        throw new CliError(`--unit: ${(err as Error).message}`);
      }
      if (!opts.name.trim()) throw new CliError("--name must not be empty");
      if ((opts.minTemp === undefined) !== (opts.maxTemp === undefined)) throw new CliError("give --min-temp and --max-temp together");
      const masterData: Record<string, unknown> = { gtin, name: opts.name, unit };
      if (opts.description) masterData.description = opts.description;
      if (opts.brand) masterData.brand = opts.brand;
      if (opts.country) {
        if (!/^[A-Z]{2}$/.test(opts.country)) throw new CliError(`--country must be an ISO 3166 alpha-2 code such as DE, got "${opts.country}"`);
        masterData.countryOfOrigin = opts.country;
      }
      if (opts.shelfLifeDays !== undefined) masterData.shelfLifeDays = wholeNumberArg(opts.shelfLifeDays, "--shelf-life-days", 36500);
      if (opts.minTemp !== undefined && opts.maxTemp !== undefined) {
        const minCelsius = temperature(opts.minTemp, "--min-temp");
        const maxCelsius = temperature(opts.maxTemp, "--max-temp");
        if (minCelsius > maxCelsius) throw new CliError("--min-temp must not be above --max-temp");
        masterData.storageTemperature = { minCelsius, maxCelsius };
      }

      const { relay, signer } = await actor(opts);
      const token = await signIn(signer);
      const stored = await apiPost<{ gtin: string; masterDataHash: string; recordId: string }>("/api/v1/products", masterData, { token });
      const tx = await relay.send(signer, "provenance", "registerProduct", [BigInt(gtin), unitBytes, stored.masterDataHash]);
      const registered = await apiGet<Record<string, unknown>>(`/api/v1/products/${gtin}`);
      print({ ...tx, product: registered }, () =>
        [
          `registered product ${gtin} (${opts.name}) in ${unit} for org ${registered.orgId}`,
          `  master data hash  ${stored.masterDataHash} (anchoring queued as ${stored.recordId})`,
          `  next: lotline batch register --gtin ${gtin} --lot <lot> --quantity <q>`,
        ].join("\n"),
      );
    },
  );
}
