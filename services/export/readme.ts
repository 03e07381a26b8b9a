import type { Bundle } from "./bundle";

/** README.txt of a bundle: what it holds and how to check it with nothing but a node of the chain. */
export function bundleReadme(bundle: Bundle): string {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  return `Lotline export bundle (${bundle.format})
=========================================

Batch ${bundle.root}
exported ${bundle.exportedAt} by ${bundle.exportedBy.address} (organisation ${bundle.exportedBy.orgId ?? "?"})
from ${bundle.source}, chain ${bundle.deployment.chainId}, genesis ${bundle.deployment.genesisHash}

It holds ${count(bundle.lineage.nodes.length, "batch")} of the lineage, ${count(bundle.lineage.edges.length, "edge")},
${count(bundle.custody.length, "custody entry")}, ${count(bundle.records.length, "proven record")} and ${count(bundle.gaps.length, "declared gap")}.
The exporter included only what its node served it; gaps.json lists what it could not include and why.

FILES
  manifest.json   every other file with its SHA-256
  bundle.json     format, root batch, exporter, source
  chain.json      chain id, genesis block hash, start block, contract addresses
  abi.json        the ABI fragments the checks use (events and anchorOf), per contract
  lineage.json    batches upstream and downstream, and the edges between them; each edge names the
                  transaction, block and log index of the event that created it (LineageEdge, or
                  BatchSplit for a split)
  custody.json    each batch's on-chain timeline entries (registered, offered, handed_over, split, ...)
                  with transaction, block and log index
  products.json   each product's on-chain registration (ProductRegistered: GTIN -> organisation)
  records.json    off-chain records (product master data, production runs, EPCIS events) as
                  proven records: {class, owner, recordId, record, leaf, proof: {merkleRoot, proof[], anchoredBy}}
  gaps.json       what was left out, and why (not shared with the exporter, not anchored yet, ...)

HOW TO VERIFY
With Lotline's CLI, against ANY node of the chain (no Lotline service is involved):

    lotline verify --bundle <this directory> --rpc <JSON-RPC URL of a chain node>

It prints one line per check and exits 0 only when every check passed (--json for machines).

Without Lotline, with any JSON-RPC client:
  1. Files: the SHA-256 of each file equals manifest.json's.
  2. Chain: eth_chainId equals chain.json's chainId, and eth_getBlockByNumber(0).hash its genesisHash.
  3. Records: recompute each record's leaf from "record":
       PRODUCT          keccak256(RFC 8785 canonical JSON of the master data)
       PRODUCTION_RUN   keccak256(RFC 8785 canonical JSON of the run record)
       EPCIS            keccak256(abi.encode(string hashId, string canonicalJson)), hashId being the
                        CBV 2.0 event hash ID of record.event under record.context, canonicalJson the
                        RFC 8785 JSON of record.event
     It must equal "leaf". The proof must lead from the leaf to proof.merkleRoot (OpenZeppelin
     StandardMerkleTree, leaf encoding ["bytes32"]: node = keccak256(keccak256(abi.encode(leaf))),
     pairs hashed sorted). proof.anchoredBy must be the record's owner, and eth_call of
     AnchorRegistry.anchorOf(owner, merkleRoot) at chain.json's "anchors" address must answer a
     non-zero blockNumber: the OWNER anchored the root. Another organisation's anchor of the same
     root proves nothing. A production run names its owner inside the record (orgId); a product's
     owner must be the organisation of its ProductRegistered event (products.json).
  4. Edges and custody entries: eth_getTransactionReceipt(transactionHash) succeeded in blockNumber,
     eth_getBlockByNumber(blockNumber).hash equals the receipt's blockHash, and the log at logIndex
     comes from the contract's address in chain.json and decodes (abi.json) to the stated values
     (an edge's from, to, kind and quantity; quantities on-chain are fixed-point with 3 decimals).
  5. Completeness: eth_getLogs of LineageEdge with the batch as "to" (for upstream batches and the
     root) or as "from" (downstream batches and the root) finds no edge missing from lineage.json.

What the checks do not prove: fields of lineage.json's batches that summarise their current state
(status, holder, location) are the exporter node's reading; the custody entries and edges are what
the chain proves.
`;
}
