import { getCreateAddress, type ContractRunner, type Provider, type Signer } from "ethers";
import {
  ConsortiumToken__factory,
  SettlementEscrow__factory,
  AnchorRegistry__factory,
  LogisticUnits__factory,
  ProvenanceRegistry__factory,
  ConsortiumRegistry__factory,
  CredentialRegistry__factory,
  LotlineForwarder__factory,
  SharingRegistry__factory,
  ProductLogic__factory,
  CustodyLogic__factory,
  AcceptanceLogic__factory,
  TransformLogic__factory,
  RecallLogic__factory,
  type ContractName,
} from "./contracts";
import { CONTRACTS_VERSION } from "./version";

/** Where a Lotline deployment lives on one chain. Shared between consortium members as a file. */
export interface DeploymentRecord {
  /** Hash of block 0: tells one chain from another even where chain ids collide (31337). */
  genesisHash: string;
  chainId: number;
  /** First block the indexer needs to read. */
  startBlock: number;
  contracts: Record<ContractName, string>;
  governor: string;
  deployedAt: string;
  /**
   * The contracts' version (services/chain/version.ts, ADR 0012). Absent in records written before
   * versions were recorded; a record of another version is refused at start.
   */
  contractsVersion: string;
}

export interface DeployOptions {
  /** Holder of GOVERNOR_ROLE: a TimelockController or multisig in production; defaults to the deployer. */
  governor?: string;
}

/**
 * Deploys the Lotline contracts. The one definition of a deployment, used by the tests' fixtures,
 * by `npm start` on the embedded chain and by `npm run deploy` against a real network.
 * Deployment order: forwarder (trusted by every contract), registry, credentials, the provenance
 * registry's logic libraries, logistic units, provenance (linked to the libraries, at the address
 * the units contract names), anchors, settlement escrow, settlement token.
 */
export async function deployLotline(deployer: Signer, options: DeployOptions = {}): Promise<DeploymentRecord> {
  const provider = requireProvider(deployer);
  const governor = options.governor ?? (await deployer.getAddress());
  const first = await provider.getBlockNumber();

  const forwarder = await new LotlineForwarder__factory(deployer).deploy();
  await forwarder.waitForDeployment();
  const forwarderAddress = await forwarder.getAddress();

  const registry = await new ConsortiumRegistry__factory(deployer).deploy(governor, forwarderAddress);
  await registry.waitForDeployment();
  const registryAddress = await registry.getAddress();

  const credentials = await new CredentialRegistry__factory(deployer).deploy(registryAddress, forwarderAddress);
  await credentials.waitForDeployment();

  // The provenance registry's external logic (docs/adr/0009): linked into its bytecode.
  const libraries = {
    provenanceProducts: await deployed(new ProductLogic__factory(deployer).deploy()),
    provenanceCustody: await deployed(new CustodyLogic__factory(deployer).deploy()),
    provenanceAcceptances: await deployed(new AcceptanceLogic__factory(deployer).deploy()),
    provenanceTransforms: await deployed(new TransformLogic__factory(deployer).deploy()),
    provenanceRecalls: await deployed(new RecallLogic__factory(deployer).deploy()),
  };
  const links = {
    "contracts/provenance/logic/ProductLogic.sol:ProductLogic": libraries.provenanceProducts,
    "contracts/provenance/logic/CustodyLogic.sol:CustodyLogic": libraries.provenanceCustody,
    "contracts/provenance/logic/AcceptanceLogic.sol:AcceptanceLogic": libraries.provenanceAcceptances,
    "contracts/provenance/logic/TransformLogic.sol:TransformLogic": libraries.provenanceTransforms,
    "contracts/provenance/logic/RecallLogic.sol:RecallLogic": libraries.provenanceRecalls,
  };

  // The logistic-units contract and the provenance registry name each other: the units contract
  // is deployed first for the registry's address, predicted from the deployer's next nonce.
  const deployerAddress = await deployer.getAddress();
  const unitsNonce = await provider.getTransactionCount(deployerAddress, "pending");
  const predictedProvenance = getCreateAddress({ from: deployerAddress, nonce: unitsNonce + 1 });
  const units = await new LogisticUnits__factory(deployer).deploy(registryAddress, predictedProvenance, forwarderAddress, { nonce: unitsNonce });
  await units.waitForDeployment();
  const provenance = await new ProvenanceRegistry__factory(links, deployer).deploy(registryAddress, await credentials.getAddress(), await units.getAddress(), forwarderAddress, {
    nonce: unitsNonce + 1,
  });
  await provenance.waitForDeployment();
  if ((await provenance.getAddress()).toLowerCase() !== predictedProvenance.toLowerCase()) {
    throw new Error("the provenance registry was not deployed at the address its logistic-units contract names");
  }

  const anchors = await new AnchorRegistry__factory(deployer).deploy(registryAddress, forwarderAddress);
  await anchors.waitForDeployment();

  const escrow = await new SettlementEscrow__factory(deployer).deploy(registryAddress, await provenance.getAddress(), forwarderAddress);
  await escrow.waitForDeployment();
  // The consortium's settlement token (ERC-20 + ERC-2612 permits); orders may use any ERC-20.
  const token = await new ConsortiumToken__factory(deployer).deploy("Lotline Settlement Euro", "LEUR", governor);
  await token.waitForDeployment();
  // Grants of read access to off-chain records and each member's node URL (node-per-member data plane).
  const sharing = await new SharingRegistry__factory(deployer).deploy(registryAddress, forwarderAddress);
  await sharing.waitForDeployment();

  const network = await provider.getNetwork();
  const genesis = await provider.getBlock(0);
  if (!genesis?.hash) throw new Error("the chain returned no genesis block");
  return {
    genesisHash: genesis.hash,
    chainId: Number(network.chainId),
    startBlock: first + 1,
    contracts: {
      forwarder: forwarderAddress,
      registry: registryAddress,
      credentials: await credentials.getAddress(),
      provenance: await provenance.getAddress(),
      units: await units.getAddress(),
      anchors: await anchors.getAddress(),
      escrow: await escrow.getAddress(),
      token: await token.getAddress(),
      sharing: await sharing.getAddress(),
      ...libraries,
    },
    governor,
    deployedAt: new Date().toISOString(),
    contractsVersion: CONTRACTS_VERSION,
  };
}

/** Typed handles on a deployment's contracts for a signer or a read-only provider. */
export function connectLotline(record: Pick<DeploymentRecord, "contracts">, runner: ContractRunner) {
  return {
    forwarder: LotlineForwarder__factory.connect(record.contracts.forwarder, runner),
    registry: ConsortiumRegistry__factory.connect(record.contracts.registry, runner),
    credentials: CredentialRegistry__factory.connect(record.contracts.credentials, runner),
    provenance: ProvenanceRegistry__factory.connect(record.contracts.provenance, runner),
    units: LogisticUnits__factory.connect(record.contracts.units, runner),
    anchors: AnchorRegistry__factory.connect(record.contracts.anchors, runner),
    escrow: SettlementEscrow__factory.connect(record.contracts.escrow, runner),
    token: ConsortiumToken__factory.connect(record.contracts.token, runner),
    sharing: SharingRegistry__factory.connect(record.contracts.sharing, runner),
  };
}
export type LotlineContracts = ReturnType<typeof connectLotline>;

async function deployed(pending: Promise<{ waitForDeployment(): Promise<unknown>; getAddress(): Promise<string> }>): Promise<string> {
  const contract = await pending;
  await contract.waitForDeployment();
  return contract.getAddress();
}

function requireProvider(signer: Signer): Provider {
  if (!signer.provider) throw new Error("the deployer signer has no provider");
  return signer.provider;
}
