/**
 * Forward-only schema migrations. Append; never edit a migration that has shipped.
 *
 * Tables are of two kinds:
 * - derived: rebuilt from chain events by the indexer (listed in DERIVED_TABLES). They carry no
 *   autoincrement ids, so a rebuild yields byte-identical rows, and every write to them is
 *   journalled by triggers for reorganisation rollback (see journal.ts).
 * - primary/operational: off-chain data and service state (checkpoint, sessions, nonces).
 */
export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    id: 1,
    name: "indexer and identity",
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

      -- The indexer's position: the last block whose effects are in the derived tables.
      CREATE TABLE indexer_checkpoint (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        block_number INTEGER NOT NULL,
        block_hash TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      -- Hashes of recently indexed blocks, for finding the common ancestor after a reorganisation.
      CREATE TABLE indexer_blocks (
        block_number INTEGER PRIMARY KEY,
        block_hash TEXT NOT NULL,
        parent_hash TEXT NOT NULL,
        timestamp INTEGER NOT NULL
      );
      -- Which block the indexer is applying (read by the journal triggers) and whether to journal.
      CREATE TABLE journal_context (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        block_number INTEGER NOT NULL,
        enabled INTEGER NOT NULL
      );
      INSERT INTO journal_context (id, block_number, enabled) VALUES (1, 0, 0);
      CREATE TABLE reorg_journal (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        block_number INTEGER NOT NULL,
        table_name TEXT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('insert', 'update', 'delete')),
        row_id INTEGER NOT NULL,
        old_row TEXT
      );
      CREATE INDEX reorg_journal_block ON reorg_journal (block_number);

      -- Every decoded event of a Lotline contract: the audit trail and the history views.
      CREATE TABLE chain_events (
        block_number INTEGER NOT NULL,
        log_index INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        block_time TEXT NOT NULL,
        contract TEXT NOT NULL,
        event TEXT NOT NULL,
        args TEXT NOT NULL,
        PRIMARY KEY (block_number, log_index)
      );

      CREATE TABLE organisations (
        org_id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        metadata_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        allowed_roles INTEGER NOT NULL,
        suspension_reason TEXT,
        admitted_at TEXT NOT NULL,
        admitted_block INTEGER NOT NULL,
        updated_block INTEGER NOT NULL
      );
      CREATE TABLE company_prefixes (
        prefix TEXT PRIMARY KEY,
        org_id INTEGER NOT NULL,
        length INTEGER NOT NULL,
        added_block INTEGER NOT NULL
      );
      CREATE INDEX company_prefixes_org ON company_prefixes (org_id);
      CREATE TABLE locations (
        gln TEXT PRIMARY KEY,
        org_id INTEGER NOT NULL,
        added_block INTEGER NOT NULL
      );
      CREATE INDEX locations_org ON locations (org_id);
      CREATE TABLE agents (
        address TEXT PRIMARY KEY,
        org_id INTEGER NOT NULL,
        roles INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        set_by TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_block INTEGER NOT NULL
      );
      CREATE INDEX agents_org ON agents (org_id);
      CREATE TABLE credentials (
        credential_id INTEGER PRIMARY KEY,
        credential_type TEXT NOT NULL,
        issuer_org INTEGER NOT NULL,
        subject_org INTEGER NOT NULL,
        claim_hash TEXT NOT NULL,
        valid_from INTEGER NOT NULL,
        valid_until INTEGER NOT NULL,
        issued_by TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        issued_tx TEXT NOT NULL,
        revoked_at TEXT,
        revocation_reason TEXT,
        revoked_by TEXT
      );
      CREATE INDEX credentials_subject ON credentials (subject_org);
      CREATE INDEX credentials_issuer ON credentials (issuer_org);

      -- Sign-In with Ethereum: single-use nonces and short-lived sessions (token stored hashed).
      CREATE TABLE auth_nonces (
        nonce TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
    `,
  },
  {
    id: 2,
    name: "provenance, logistic units, anchors",
    sql: `
      CREATE TABLE units_of_measure (unit TEXT PRIMARY KEY, dimension INTEGER NOT NULL, to_base TEXT NOT NULL);
      CREATE TABLE transform_kinds (kind TEXT PRIMARY KEY, enabled INTEGER NOT NULL, tolerance_bps INTEGER NOT NULL);
      CREATE TABLE products (
        gtin TEXT PRIMARY KEY,
        org_id INTEGER NOT NULL,
        unit TEXT NOT NULL,
        master_data_hash TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        registered_block INTEGER NOT NULL,
        registered_tx TEXT NOT NULL
      );
      CREATE INDEX products_org ON products (org_id);
      CREATE TABLE lots (
        lot_id TEXT PRIMARY KEY,
        gtin TEXT NOT NULL,
        lot TEXT NOT NULL,
        producer_org INTEGER NOT NULL,
        registered_at TEXT NOT NULL,
        registered_block INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX lots_key ON lots (gtin, lot);
      -- One row per portion (ADR 0006). Quantities are raw fixed-point integers (3 decimals) as text.
      CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY,
        lot_id TEXT NOT NULL,
        gtin TEXT NOT NULL,
        lot TEXT NOT NULL,
        parent_id TEXT,
        portion_index INTEGER,
        quantity TEXT NOT NULL,
        unit TEXT NOT NULL,
        owner_org INTEGER NOT NULL,
        custodian_org INTEGER NOT NULL,
        producer_org INTEGER NOT NULL,
        location TEXT,
        status TEXT NOT NULL,
        recall TEXT NOT NULL,
        unit_key TEXT,
        offer_to INTEGER,
        offer_kind TEXT,
        offer_quantity TEXT,
        metadata_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_block INTEGER NOT NULL,
        created_tx TEXT NOT NULL,
        updated_block INTEGER NOT NULL
      );
      CREATE INDEX batches_lot ON batches (lot_id);
      CREATE INDEX batches_owner ON batches (owner_org);
      CREATE INDEX batches_custodian ON batches (custodian_org);
      CREATE INDEX batches_gtin ON batches (gtin, lot);
      CREATE INDEX batches_unit ON batches (unit_key);
      CREATE TABLE lineage_edges (
        from_batch TEXT NOT NULL,
        to_batch TEXT NOT NULL,
        kind TEXT NOT NULL,
        quantity TEXT NOT NULL,
        unit TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        PRIMARY KEY (from_batch, to_batch)
      );
      CREATE INDEX lineage_edges_to ON lineage_edges (to_batch);
      CREATE TABLE transformations (
        transformation_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        org_id INTEGER NOT NULL,
        metadata_hash TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        time TEXT NOT NULL
      );
      -- The custody and observation timeline of each batch.
      CREATE TABLE batch_events (
        block_number INTEGER NOT NULL,
        log_index INTEGER NOT NULL,
        batch_id TEXT NOT NULL,
        type TEXT NOT NULL,
        details TEXT NOT NULL,
        tx_hash TEXT NOT NULL,
        time TEXT NOT NULL,
        PRIMARY KEY (block_number, log_index, batch_id)
      );
      CREATE INDEX batch_events_batch ON batch_events (batch_id, block_number, log_index);
      CREATE TABLE recalls (
        batch_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        source_batch TEXT,
        reason TEXT,
        by_org INTEGER,
        block_number INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        time TEXT NOT NULL
      );
      CREATE TABLE logistic_units (
        unit_key TEXT PRIMARY KEY,
        sscc TEXT NOT NULL,
        custodian_org INTEGER NOT NULL,
        location TEXT,
        offer_to INTEGER,
        status TEXT NOT NULL,
        updated_block INTEGER NOT NULL
      );
      CREATE TABLE anchors (
        root TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        org_id INTEGER NOT NULL,
        count INTEGER NOT NULL,
        uri TEXT NOT NULL,
        anchored_by TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        time TEXT NOT NULL
      );

      -- Primary (off-chain) data: never derived, never rolled back.
      CREATE TABLE product_master_data (
        master_data_hash TEXT PRIMARY KEY,
        gtin TEXT NOT NULL,
        document TEXT NOT NULL,
        submitted_by TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      -- The anchoring outbox: a record is queued here in the same transaction that stores it.
      CREATE TABLE anchor_outbox (
        record_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        leaf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        root TEXT,
        submitted_tx TEXT,
        submitted_at INTEGER
      );
      CREATE INDEX anchor_outbox_root ON anchor_outbox (root);
      -- The ordered leaves of each Merkle batch this service submitted, for proofs.
      CREATE TABLE anchor_batches (
        root TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        leaves TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    id: 3,
    name: "settlement",
    sql: `
      CREATE TABLE orders (
        order_id INTEGER PRIMARY KEY,
        buyer_org INTEGER NOT NULL,
        seller_org INTEGER NOT NULL,
        arbiter_org INTEGER,
        token TEXT NOT NULL,
        gtin TEXT NOT NULL,
        quantity TEXT NOT NULL,
        price_per_unit TEXT NOT NULL,
        delivery_deadline INTEGER NOT NULL,
        inspection_window INTEGER NOT NULL,
        inspection_ends INTEGER,
        terms_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        funded TEXT NOT NULL,
        delivered TEXT NOT NULL,
        contested TEXT NOT NULL,
        credited TEXT NOT NULL,
        buyer_wallet TEXT,
        seller_wallet TEXT,
        created_at TEXT NOT NULL,
        created_block INTEGER NOT NULL,
        created_tx TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_block INTEGER NOT NULL
      );
      CREATE INDEX orders_buyer ON orders (buyer_org);
      CREATE INDEX orders_seller ON orders (seller_org);
      CREATE TABLE order_deliveries (
        batch_id TEXT PRIMARY KEY,
        order_id INTEGER NOT NULL,
        quantity TEXT NOT NULL,
        inspection_ends INTEGER NOT NULL,
        block_number INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        time TEXT NOT NULL
      );
      CREATE INDEX order_deliveries_order ON order_deliveries (order_id);
      -- Funding, rejections, freezes, resolutions, credits and status changes of each order.
      CREATE TABLE order_events (
        block_number INTEGER NOT NULL,
        log_index INTEGER NOT NULL,
        order_id INTEGER NOT NULL,
        type TEXT NOT NULL,
        details TEXT NOT NULL,
        tx_hash TEXT NOT NULL,
        time TEXT NOT NULL,
        PRIMARY KEY (block_number, log_index)
      );
      CREATE INDEX order_events_order ON order_events (order_id, block_number, log_index);
      CREATE TABLE withdrawals (
        block_number INTEGER NOT NULL,
        log_index INTEGER NOT NULL,
        account TEXT NOT NULL,
        token TEXT NOT NULL,
        amount TEXT NOT NULL,
        tx_hash TEXT NOT NULL,
        time TEXT NOT NULL,
        PRIMARY KEY (block_number, log_index)
      );
    `,
  },
  {
    id: 4,
    name: "EPCIS 2.0 capture and events",
    // Primary data (not derived from the chain): captured documents and the events stored from them.
    sql: `
      -- A capture job: the document exactly as received, stored before the 202 is answered, and the
      -- job's state. The capture job (services/epcis/capture.ts) stores its events in chunks,
      -- advancing processed in the same transaction, so a restarted node resumes where it stopped.
      CREATE TABLE epcis_captures (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        capture_id TEXT NOT NULL UNIQUE,
        org_id INTEGER NOT NULL,
        agent TEXT NOT NULL,
        content_type TEXT NOT NULL,
        document TEXT NOT NULL,
        error_behaviour TEXT NOT NULL CHECK (error_behaviour IN ('rollback', 'proceed')),
        running INTEGER NOT NULL CHECK (running IN (0, 1)),
        total INTEGER NOT NULL,
        processed INTEGER NOT NULL DEFAULT 0,
        stored INTEGER NOT NULL DEFAULT 0,
        errors TEXT NOT NULL DEFAULT '[]',
        duplicates TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        finished_at TEXT
      );
      CREATE INDEX epcis_captures_running ON epcis_captures (seq) WHERE running = 1;
      CREATE INDEX epcis_captures_org ON epcis_captures (org_id, seq);

      -- Stored events: the RFC 8785 canonical JSON of the event as stored (as received, with its
      -- eventID filled in when absent and the repository's recordTime), plus indexed columns.
      CREATE TABLE epcis_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        hash_id TEXT NOT NULL,
        content_digest TEXT NOT NULL,
        event TEXT NOT NULL,
        context TEXT,
        event_type TEXT NOT NULL,
        event_time TEXT NOT NULL,
        record_time TEXT NOT NULL,
        action TEXT,
        biz_step TEXT,
        disposition TEXT,
        read_point TEXT,
        biz_location TEXT,
        transformation_id TEXT,
        error_declaration_time TEXT,
        error_reason TEXT,
        original_seq INTEGER REFERENCES epcis_events (seq),
        capture_id TEXT NOT NULL REFERENCES epcis_captures (capture_id),
        event_index INTEGER NOT NULL,
        org_id INTEGER NOT NULL,
        UNIQUE (capture_id, event_index)
      );
      CREATE INDEX epcis_events_event_id ON epcis_events (event_id);
      CREATE INDEX epcis_events_hash_id ON epcis_events (hash_id);
      CREATE INDEX epcis_events_content ON epcis_events (content_digest);
      CREATE INDEX epcis_events_event_time ON epcis_events (event_time, seq);
      CREATE INDEX epcis_events_record_time ON epcis_events (record_time, seq);
      CREATE INDEX epcis_events_type ON epcis_events (event_type, seq);
      CREATE INDEX epcis_events_biz_step ON epcis_events (biz_step, seq);
      CREATE INDEX epcis_events_disposition ON epcis_events (disposition, seq);
      CREATE INDEX epcis_events_read_point ON epcis_events (read_point, seq);
      CREATE INDEX epcis_events_biz_location ON epcis_events (biz_location, seq);

      -- Identifiers of each event by role (epc, child, parent, input, output, epcClass, …), in the
      -- canonical GS1 Digital Link form (EPC URNs and Digital Links are the same identifier) and as
      -- captured; also persistent dispositions and corrective event IDs, for the query parameters.
      CREATE TABLE epcis_event_identifiers (
        seq INTEGER NOT NULL REFERENCES epcis_events (seq),
        role TEXT NOT NULL,
        id TEXT NOT NULL,
        raw TEXT NOT NULL,
        quantity REAL,
        uom TEXT
      );
      CREATE INDEX epcis_event_identifiers_id ON epcis_event_identifiers (id, role);
      CREATE INDEX epcis_event_identifiers_seq ON epcis_event_identifiers (seq);

      -- GS1 company prefixes seen in captured EPC URNs: where a Digital Link's company prefix ends,
      -- for answering in URN form (GS1-EPC-Format: Always_EPC_URN).
      CREATE TABLE epcis_company_prefixes (prefix TEXT PRIMARY KEY);
    `,
  },
  {
    id: 5,
    name: "production runs",
    // Primary data (off-chain, never derived, never rolled back): production-run records. The
    // record column is the RFC 8785 canonical JSON whose keccak256 is anchored (kind
    // PRODUCTION_RUN); superseded_by is kept outside it, since a correction never rewrites a record.
    sql: `
      CREATE TABLE production_runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL UNIQUE,
        org_id INTEGER NOT NULL,
        site TEXT NOT NULL,
        line TEXT NOT NULL,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER NOT NULL,
        record TEXT NOT NULL,
        record_hash TEXT NOT NULL,
        corrects TEXT REFERENCES production_runs (run_id),
        superseded_by TEXT REFERENCES production_runs (run_id),
        created_at TEXT NOT NULL
      );
      CREATE INDEX production_runs_org ON production_runs (org_id, start_ms, seq);
      CREATE INDEX production_runs_site_line ON production_runs (site, line, start_ms);
      CREATE INDEX production_runs_time ON production_runs (start_ms, seq);
      -- The batches each run consumed and produced (quantities raw fixed-point, 3 decimals).
      CREATE TABLE production_run_batches (
        run_id TEXT NOT NULL REFERENCES production_runs (run_id),
        role TEXT NOT NULL CHECK (role IN ('input', 'output')),
        batch_id TEXT NOT NULL,
        quantity TEXT NOT NULL,
        PRIMARY KEY (run_id, role, batch_id)
      );
      CREATE INDEX production_run_batches_batch ON production_run_batches (batch_id, role);
    `,
  },
  {
    id: 6,
    name: "quality models and scores",
    // Primary data (services/scoring/service/store.ts): the quality models this node scored with,
    // each anchored through the outbox (kind MODEL) in the transaction that records it, and every
    // quality score with the hash of the model that produced it.
    sql: `
      CREATE TABLE models (
        model_hash TEXT PRIMARY KEY,
        learner TEXT NOT NULL,
        features TEXT NOT NULL,
        threshold REAL NOT NULL,
        cv_metrics TEXT NOT NULL,
        record TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE quality_scores (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL CHECK (source IN ('request', 'production_run')),
        run_id TEXT,
        inputs_hash TEXT NOT NULL,
        scorable INTEGER NOT NULL CHECK (scorable IN (0, 1)),
        probability REAL,
        risk_band TEXT,
        output TEXT NOT NULL,
        model_hash TEXT NOT NULL REFERENCES models (model_hash),
        -- The agent (wallet address) that asked for a requested score; null for production runs.
        requested_by TEXT,
        created_at TEXT NOT NULL
      );
      CREATE INDEX quality_scores_run ON quality_scores (run_id, model_hash);
      -- A production run is scored once per model (by the scoring job, or on first read).
      CREATE UNIQUE INDEX quality_scores_production_run ON quality_scores (run_id, model_hash) WHERE source = 'production_run';
    `,
  },
  {
    id: 7,
    name: "EPCIS mapping onto provenance",
    // Primary/operational data (never derived, never rolled back). The mapping queue: the capture job's
    // hook adds a pending row in the transaction that stores each event; the mapping job
    // (services/epcis/mapping/job.ts) applies it with the node's integration key, in order. Events
    // stored before this migration are not mapped after the fact (their on-chain effects were not asked for).
    sql: `
      CREATE TABLE epcis_mappings (
        seq INTEGER PRIMARY KEY REFERENCES epcis_events (seq),
        status TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'not_applied')),
        -- registerLots, offer, accept, transform, pack, unpack, offerUnit, acceptUnit, observe, link, kept
        effect TEXT,
        reason TEXT,
        -- The (first) transaction of the effect; every hash is in details.transactions.
        tx_hash TEXT,
        -- JSON: the calls planned and sent (so a restart resumes a sent transaction instead of redoing it), batches, orders.
        details TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX epcis_mappings_pending ON epcis_mappings (seq) WHERE status = 'pending';
      INSERT INTO epcis_mappings (seq, status, reason, created_at, updated_at)
        SELECT seq, 'not_applied', 'captured before Lotline mapped EPCIS events onto provenance', record_time, record_time FROM epcis_events;

      -- Purchase orders an event names (a bizTransaction of type po), shown on the order and its batches.
      CREATE TABLE epcis_order_links (
        seq INTEGER NOT NULL REFERENCES epcis_events (seq),
        order_id INTEGER NOT NULL,
        biz_transaction TEXT NOT NULL,
        PRIMARY KEY (seq, order_id)
      );
      CREATE INDEX epcis_order_links_order ON epcis_order_links (order_id, seq);
    `,
  },
  {
    id: 8,
    name: "agent consent and governed credential types",
    // Derived (issue 10, ADR 0010). A wallet joins an organisation only by accepting its proposal:
    // agent_proposals holds the proposals not yet accepted or cancelled. certifier_types holds what
    // governance allows each certifier organisation to issue (rows only while allowed). A credential
    // revoked by someone who was not then an agent of the issuing organisation was revoked by governance.
    sql: `
      CREATE TABLE agent_proposals (
        address TEXT NOT NULL,
        org_id INTEGER NOT NULL,
        roles INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        proposed_by TEXT NOT NULL,
        proposed_at TEXT NOT NULL,
        proposed_block INTEGER NOT NULL,
        PRIMARY KEY (address, org_id)
      );
      CREATE INDEX agent_proposals_org ON agent_proposals (org_id);
      CREATE TABLE certifier_types (
        issuer_org INTEGER NOT NULL,
        credential_type TEXT NOT NULL,
        set_by TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        updated_block INTEGER NOT NULL,
        PRIMARY KEY (issuer_org, credential_type)
      );
      ALTER TABLE credentials ADD COLUMN revoked_by_governance INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    id: 9,
    name: "Governed recalls: propagated edges, withdrawals; claims; logistic-unit contents hash",
    // Derived (docs/adr/0009). recall_edges: the lineage edges a recall currently went along (a
    // batch stays recalled while one reaches it); the propagator submits withdrawals along those whose
    // parent is no longer recalled. batch_claims: claims put on or carried to a batch (validity is the
    // chain's hasClaim). logistic_units.contents_hash: the chain's contents hash chain, which
    // acceptUnit must name.
    sql: `
      CREATE TABLE recall_edges (
        from_batch TEXT NOT NULL,
        to_batch TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        PRIMARY KEY (from_batch, to_batch)
      );
      CREATE INDEX recall_edges_to ON recall_edges (to_batch);
      CREATE TABLE batch_claims (
        batch_id TEXT NOT NULL,
        claim TEXT NOT NULL,
        org_id INTEGER,
        block_number INTEGER NOT NULL,
        PRIMARY KEY (batch_id, claim)
      );
      CREATE TABLE claim_definitions (
        claim TEXT PRIMARY KEY,
        credential_type TEXT NOT NULL,
        bit INTEGER NOT NULL
      );
      ALTER TABLE logistic_units ADD COLUMN contents_hash TEXT;
    `,
  },
  {
    id: 10,
    name: "settlement-sales-and-organisation-accounts",
    // Deliveries name sales (batch, sale index); the same batch may now count toward several
    // orders (resale), so order_deliveries is keyed by the sale. Derived tables: rebuilt from the
    // chain, so dropping and recreating loses nothing.
    sql: `
      DROP TABLE order_deliveries;
      CREATE TABLE order_deliveries (
        sale_index INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL,
        order_id INTEGER NOT NULL,
        quantity TEXT NOT NULL,
        inspection_ends INTEGER NOT NULL,
        block_number INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        time TEXT NOT NULL
      );
      CREATE INDEX order_deliveries_order ON order_deliveries (order_id);
      CREATE INDEX order_deliveries_batch ON order_deliveries (batch_id);
      -- Sales the provenance registry recorded (OwnershipTransferred): what deliveries name.
      CREATE TABLE sales (
        sale_index INTEGER PRIMARY KEY,
        batch_id TEXT NOT NULL,
        from_org INTEGER NOT NULL,
        to_org INTEGER NOT NULL,
        quantity TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        time TEXT NOT NULL
      );
      CREATE INDEX sales_batch ON sales (batch_id, from_org, to_org, sale_index);
      ALTER TABLE orders ADD COLUMN funded_at INTEGER;
      ALTER TABLE orders ADD COLUMN dispute_timeout INTEGER;
      ALTER TABLE orders ADD COLUMN default_seller_share_bps INTEGER;
      ALTER TABLE orders ADD COLUMN decide_by INTEGER;
      -- What the escrow owes each organisation, per token (credits less withdrawals).
      CREATE TABLE org_balances (
        org_id INTEGER NOT NULL,
        token TEXT NOT NULL,
        owed TEXT NOT NULL,
        PRIMARY KEY (org_id, token)
      );
      CREATE TABLE payout_addresses (
        org_id INTEGER PRIMARY KEY,
        address TEXT NOT NULL,
        set_by TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        time TEXT NOT NULL
      );
      ALTER TABLE withdrawals ADD COLUMN org_id INTEGER;
      ALTER TABLE withdrawals ADD COLUMN withdrawn_by TEXT;
    `,
  },
  {
    id: 11,
    name: "anchors keyed by organisation and root",
    // AnchorRegistry keys anchors by (organisation, root) (ADR 0011): several organisations may anchor
    // one root, and a proof relies on the anchor of one named organisation. The derived table is
    // rebuilt with that key (rowids kept, so the reorganisation journal still points at its rows);
    // each Merkle batch this node submitted remembers the organisation it anchored it as.
    sql: `
      CREATE TABLE anchors_by_org (
        root TEXT NOT NULL,
        kind TEXT NOT NULL,
        org_id INTEGER NOT NULL,
        count INTEGER NOT NULL,
        uri TEXT NOT NULL,
        anchored_by TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        time TEXT NOT NULL,
        PRIMARY KEY (org_id, root)
      );
      INSERT INTO anchors_by_org (rowid, root, kind, org_id, count, uri, anchored_by, block_number, tx_hash, time)
        SELECT rowid, root, kind, org_id, count, uri, anchored_by, block_number, tx_hash, time FROM anchors;
      DROP TABLE anchors;
      ALTER TABLE anchors_by_org RENAME TO anchors;
      CREATE INDEX anchors_root ON anchors (root, block_number);

      -- The organisation this node anchored the batch as (its integration key's); NULL while unknown.
      ALTER TABLE anchor_batches ADD COLUMN org_id INTEGER;
      UPDATE anchor_batches SET org_id = (SELECT a.org_id FROM anchors a WHERE a.root = anchor_batches.root ORDER BY a.block_number LIMIT 1);
    `,
  },
  {
    id: 12,
    name: "sharing: grants of read access and node URLs",
    sql: `
      -- SharingRegistry grants (contract ids): grantor shares record classes (bit set: 1 EPCIS,
      -- 2 PRODUCTION_RUN, 4 ORDER_TERMS) over a scope with grantee until expires_at (unix seconds).
      CREATE TABLE grants (
        grant_id INTEGER PRIMARY KEY,
        grantor_org INTEGER NOT NULL,
        grantee_org INTEGER NOT NULL,
        classes INTEGER NOT NULL,
        scope_kind TEXT NOT NULL CHECK (scope_kind IN ('all', 'gtin', 'lot')),
        scope TEXT,
        expires_at INTEGER NOT NULL,
        revoked_at TEXT,
        revoked_by_org INTEGER,
        granted_by TEXT NOT NULL,
        granted_at TEXT NOT NULL,
        block_number INTEGER NOT NULL,
        tx_hash TEXT NOT NULL
      );
      CREATE INDEX grants_grantee ON grants (grantee_org, grantor_org);
      CREATE INDEX grants_grantor ON grants (grantor_org, grantee_org);
      CREATE TABLE service_urls (
        org_id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,
        set_by TEXT NOT NULL,
        block_number INTEGER NOT NULL
      );
    `,
  },
  {
    id: 13,
    name: "the organisation that owns each record queued for anchoring",
    // A record is anchored by its owning organisation's key (the node holds one per organisation it
    // serves), so anyone it is shared with can check it against the owner's anchor (issue 11).
    // NULL: a record of the node itself (a model hash) or queued before this column existed.
    sql: `
      ALTER TABLE anchor_outbox ADD COLUMN owner_org INTEGER;
    `,
  },
  {
    id: 14,
    name: "EPCIS named queries",
    sql: `
      -- Named queries of the EPCIS REST binding (/epcis/queries), one namespace per organisation: the
      -- query is the binding's query object (parameter name → value or list), validated on creation.
      CREATE TABLE epcis_named_queries (
        org_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        query TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (org_id, name)
      );
    `,
  },
  {
    id: 15,
    name: "EPCIS capture: staged events (rollback) and events refused at the door (proceed)",
    sql: `
      -- GS1-Capture-Error-Behaviour: rollback. The capture job stages a document's prepared events here
      -- in chunks, then publishes them all in one transaction (stored, queued for anchoring and mapping)
      -- and deletes the staged rows: nothing of the document is visible before all of it is stored.
      CREATE TABLE epcis_capture_staged (
        capture_id TEXT NOT NULL REFERENCES epcis_captures (capture_id),
        event_index INTEGER NOT NULL,
        prepared TEXT NOT NULL,
        PRIMARY KEY (capture_id, event_index)
      );
      -- GS1-Capture-Error-Behaviour: proceed. Events the schema refused when the document was received:
      -- not captured, reported among the capture job's errors.
      ALTER TABLE epcis_captures ADD COLUMN invalid TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    id: 16,
    name: "EPCIS subscriptions (webhooks) and their deliveries",
    sql: `
      -- Webhook subscriptions to an organisation's named queries: stream (each new batch of events) or
      -- schedule (cron-like JSON). after_seq: events with a larger seq have not been reported yet.
      -- signature_token is the subscriber's secret for GS1-Signature: never served back.
      CREATE TABLE epcis_subscriptions (
        subscription_id TEXT PRIMARY KEY,
        org_id INTEGER NOT NULL,
        query_name TEXT NOT NULL,
        dest TEXT NOT NULL,
        signature_token TEXT,
        report_if_empty INTEGER NOT NULL CHECK (report_if_empty IN (0, 1)),
        stream INTEGER NOT NULL CHECK (stream IN (0, 1)),
        schedule TEXT,
        after_seq INTEGER NOT NULL,
        next_run_at TEXT,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX epcis_subscriptions_query ON epcis_subscriptions (org_id, query_name);
      -- Every report to a subscriber, its attempts and outcome (the delivery log).
      CREATE TABLE epcis_deliveries (
        delivery_id INTEGER PRIMARY KEY AUTOINCREMENT,
        subscription_id TEXT NOT NULL,
        body TEXT NOT NULL,
        event_count INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL,
        next_attempt_at TEXT NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT
      );
      CREATE INDEX epcis_deliveries_pending ON epcis_deliveries (next_attempt_at) WHERE status = 'pending';
      CREATE INDEX epcis_deliveries_subscription ON epcis_deliveries (subscription_id, delivery_id);
    `,
  },
  {
    id: 17,
    name: "federation between member nodes",
    // Primary data of the federation (services/federation): production runs replicated from the
    // node that holds them keep their owner (org_id) and say where they came from (served_by: the
    // holder's URL; NULL for a run this node recorded itself). A replica is stored only once its
    // proof checked against the owner's anchor on the indexed chain (verified_at); it is never queued
    // for anchoring again. federation_fetches remembers, per (lot, owner, fetching organisation), what
    // the holder answered last (ok | not_shared | not_recorded | unreachable), for gaps and freshness;
    // federation_rejections is the log of records refused because they did not verify.
    // node_request_nonces: nonces of signed node-to-node requests this node accepted (no replay).
    sql: `
      ALTER TABLE production_runs ADD COLUMN served_by TEXT;
      ALTER TABLE production_runs ADD COLUMN verified_at TEXT;
      ALTER TABLE production_runs ADD COLUMN replica_proof TEXT;
      CREATE TABLE federation_fetches (
        batch_id TEXT NOT NULL,
        owner_org INTEGER NOT NULL,
        as_org INTEGER NOT NULL,
        record_class TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'not_shared', 'not_recorded', 'unreachable')),
        served_by TEXT,
        detail TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        PRIMARY KEY (batch_id, owner_org, as_org, record_class)
      );
      CREATE TABLE federation_rejections (
        rejection_id INTEGER PRIMARY KEY AUTOINCREMENT,
        owner_org INTEGER NOT NULL,
        served_by TEXT NOT NULL,
        record_id TEXT NOT NULL,
        failure TEXT NOT NULL,
        detail TEXT NOT NULL,
        at TEXT NOT NULL
      );
      CREATE TABLE node_request_nonces (
        nonce TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      );
    `,
  },
  {
    id: 20,
    name: "EPCIS mappings re-checked after a chain reorganisation",
    // Operational (issue 12). The block (number and hash) holding the last transaction of an applied
    // mapping: when the index no longer has that block with that hash, a reorganisation removed it
    // and the mapping job checks the mapping again (services/epcis/mapping/job.ts). Mappings applied
    // before this migration have no block and are not re-checked.
    sql: `
      ALTER TABLE epcis_mappings ADD COLUMN block_number INTEGER;
      ALTER TABLE epcis_mappings ADD COLUMN block_hash TEXT;
      CREATE INDEX epcis_mappings_applied_block ON epcis_mappings (block_number) WHERE status = 'applied' AND block_number IS NOT NULL;
    `,
  },
  {
    id: 21,
    name: "storage used by each organisation's captured EPCIS documents",
    // Primary data (issue 12): the bytes of captured documents per organisation, kept by triggers in
    // the transaction that stores or removes a capture, so the quota check (LOTLINE_EPCIS_QUOTA_BYTES)
    // reads one row instead of summing every document.
    sql: `
      CREATE TABLE epcis_org_usage (
        org_id INTEGER PRIMARY KEY,
        bytes INTEGER NOT NULL
      );
      INSERT INTO epcis_org_usage (org_id, bytes)
        SELECT org_id, SUM(length(CAST(document AS BLOB))) FROM epcis_captures GROUP BY org_id;
      CREATE TRIGGER epcis_captures_usage_insert AFTER INSERT ON epcis_captures BEGIN
        INSERT INTO epcis_org_usage (org_id, bytes) VALUES (NEW.org_id, length(CAST(NEW.document AS BLOB)))
          ON CONFLICT (org_id) DO UPDATE SET bytes = bytes + excluded.bytes;
      END;
      CREATE TRIGGER epcis_captures_usage_delete AFTER DELETE ON epcis_captures BEGIN
        UPDATE epcis_org_usage SET bytes = bytes - length(CAST(OLD.document AS BLOB)) WHERE org_id = OLD.org_id;
      END;
    `,
  },
  {
    id: 25,
    // Issue 16 (docs/performance.md): a trace asks each node's edges in block order. These indexes
    // answer that from the index alone, in order: no table lookup per edge, no sort per node.
    name: "lineage edges covered in walk order",
    sql: `
      CREATE INDEX lineage_edges_upstream ON lineage_edges (to_batch, block_number, from_batch, kind, quantity, unit);
      CREATE INDEX lineage_edges_downstream ON lineage_edges (from_batch, block_number, to_batch, kind, quantity, unit);
      DROP INDEX lineage_edges_to;
    `,
  },
  {
    id: 26,
    name: "one webhook outbox for EPCIS subscriptions and Lotline notifications",
    sql: `
      -- Every delivery to a webhook, its attempts and outcome (the delivery log), whatever queued it:
      -- channel epcis (reports of EPCIS query subscriptions) or lotline (notifications). The secret that
      -- signs a delivery stays in its subscription. from_chain: a notification derived from a chain
      -- event, sent only while the event is indexed (a rolled-back one is cancelled, ADR 0018).
      CREATE TABLE webhook_deliveries (
        delivery_id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL CHECK (channel IN ('epcis', 'lotline')),
        subscription_id TEXT NOT NULL,
        dest TEXT NOT NULL,
        body TEXT NOT NULL,
        event_count INTEGER,
        topic TEXT,
        type TEXT,
        notification_key TEXT,
        from_chain INTEGER NOT NULL DEFAULT 0 CHECK (from_chain IN (0, 1)),
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
        attempts INTEGER NOT NULL,
        next_attempt_at TEXT NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT
      );
      INSERT INTO webhook_deliveries (delivery_id, channel, subscription_id, dest, body, event_count, status, attempts, next_attempt_at, last_status, last_error, created_at, delivered_at)
        SELECT d.delivery_id, 'epcis', d.subscription_id, COALESCE(s.dest, ''), d.body, d.event_count, d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.created_at, d.delivered_at
        FROM epcis_deliveries d LEFT JOIN epcis_subscriptions s ON s.subscription_id = d.subscription_id;
      DROP TABLE epcis_deliveries;
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, delivery_id) WHERE status = 'pending';
      CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (channel, subscription_id, delivery_id);
      CREATE INDEX webhook_deliveries_cancelled ON webhook_deliveries (notification_key) WHERE status = 'cancelled';
    `,
  },
  {
    id: 27,
    name: "Lotline notifications: subscriptions and what concerns each member",
    sql: `
      -- A member's webhook for its notifications (topics: JSON array of recall, offer, order, grant,
      -- capture). secret keys the X-Lotline-Signature HMAC: never served back, never logged.
      CREATE TABLE notification_subscriptions (
        subscription_id TEXT PRIMARY KEY,
        org_id INTEGER NOT NULL,
        url TEXT NOT NULL,
        topics TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX notification_subscriptions_org ON notification_subscriptions (org_id, created_at);
      -- Derived: what an indexed chain event means to a member (journalled, so a reorganisation takes
      -- it back with its event). notification_key: sha256 of topic, type, member, transaction and
      -- content, the same when a rolled-back transaction is indexed again.
      CREATE TABLE notifications (
        notification_key TEXT PRIMARY KEY,
        org_id INTEGER NOT NULL,
        topic TEXT NOT NULL,
        type TEXT NOT NULL,
        at TEXT NOT NULL,
        data TEXT NOT NULL,
        block_number INTEGER NOT NULL
      );
      CREATE INDEX notifications_block ON notifications (block_number);
      -- Operational: notifications already handed to the subscriptions of their moment (each once,
      -- across rollbacks and rebuilds of the index), and the capture jobs already announced.
      CREATE TABLE notifications_fanned (
        notification_key TEXT PRIMARY KEY,
        fanned_at TEXT NOT NULL
      );
    `,
  },
  {
    id: 28,
    name: "recall acknowledgements",
    sql: `
      -- A custodian's acknowledgement of a recall notice (the direct recall of batch_id made in
      -- recall_tx), signed by one of its agents as EIP-712 typed data (services/recalls/acknowledgements.ts).
      -- Primary data: stored and queued for anchoring in one transaction. One per organisation and
      -- notice; a nonce is used once across all notices.
      CREATE TABLE recall_acknowledgements (
        batch_id TEXT NOT NULL,
        recall_tx TEXT NOT NULL,
        org_id INTEGER NOT NULL,
        agent TEXT NOT NULL,
        nonce TEXT NOT NULL UNIQUE,
        deadline INTEGER NOT NULL,
        note TEXT NOT NULL,
        signature TEXT NOT NULL,
        digest TEXT NOT NULL,
        record_id TEXT NOT NULL,
        acknowledged_at TEXT NOT NULL,
        PRIMARY KEY (batch_id, recall_tx, org_id)
      );
    `,
  },
  {
    id: 29,
    name: "audit log",
    sql: `
      -- Append-only, hash-chained log of every write through the API and every change of the node's
      -- keys (services/audit/log.ts): entry_hash = sha256 over prev_hash and the entry's fields. Request
      -- bodies are never stored, only their hash. Triggers refuse updates and deletes; an edit made
      -- around them breaks the chain, and the anchored heads (audit_heads) pin it on-chain.
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        agent TEXT,
        org_id INTEGER,
        action TEXT NOT NULL,
        target TEXT,
        status INTEGER NOT NULL,
        request_hash TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        entry_hash TEXT NOT NULL
      );
      CREATE INDEX audit_log_org ON audit_log (org_id, seq);
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      -- Heads of the log queued for anchoring (anchor_outbox record audit:head:<seq>, leaf = the head).
      CREATE TABLE audit_heads (
        seq INTEGER PRIMARY KEY,
        head TEXT NOT NULL,
        record_id TEXT NOT NULL,
        queued_at TEXT NOT NULL
      );
    `,
  },
  {
    id: 31,
    name: "EPCIS master data and location hierarchies",
    sql: `
      -- Vocabulary elements of the master data captured with EPCIS documents (epcisHeader.epcisMasterData),
      -- per capture, stored with its events: vtype as the EPCIS URN (urn:epcglobal:epcis:vtype:…), id
      -- canonical (GS1 Digital Link), element the RFC 8785 JSON as captured. The capture keeps the document too.
      CREATE TABLE epcis_vocabulary_elements (
        capture_id TEXT NOT NULL REFERENCES epcis_captures (capture_id),
        vtype TEXT NOT NULL,
        id TEXT NOT NULL,
        org_id INTEGER NOT NULL,
        element TEXT NOT NULL,
        PRIMARY KEY (capture_id, vtype, id)
      );
      CREATE INDEX epcis_vocabulary_elements_id ON epcis_vocabulary_elements (vtype, id);
      -- Declared children (a vocabulary element's children list), once per declaring organisation.
      -- parent_base: the parent without its GLN extension (/254/…); *_gln: the 13-digit GLN of an end
      -- that is a location Digital Link (…/414/{gln}), else NULL.
      CREATE TABLE epcis_vocabulary_children (
        vtype TEXT NOT NULL,
        parent TEXT NOT NULL,
        child TEXT NOT NULL,
        org_id INTEGER NOT NULL,
        parent_base TEXT NOT NULL,
        parent_gln TEXT,
        child_gln TEXT,
        capture_id TEXT NOT NULL,
        PRIMARY KEY (vtype, parent, child, org_id)
      );
      CREATE INDEX epcis_vocabulary_children_base ON epcis_vocabulary_children (vtype, parent_base);
      -- The children WD_readPoint / WD_bizLocation follow: those declared by the organisation that owns
      -- both ends (a GLN is owned by its location's registration, else by its company prefix's holder),
      -- an end that is no member's GLN counting as owned. A member cannot graft its sites under another
      -- member's location, nor claim another member's sites as its own location's.
      CREATE VIEW epcis_location_links AS
        SELECT c.vtype, c.parent, c.parent_base, c.child FROM epcis_vocabulary_children c
        WHERE (c.parent_gln IS NULL OR COALESCE(
                 (SELECT l.org_id FROM locations l WHERE l.gln = c.parent_gln),
                 (SELECT p.org_id FROM company_prefixes p WHERE p.prefix = substr(c.parent_gln, 1, p.length) ORDER BY p.length LIMIT 1),
                 c.org_id) = c.org_id)
          AND (c.child_gln IS NULL OR COALESCE(
                 (SELECT l.org_id FROM locations l WHERE l.gln = c.child_gln),
                 (SELECT p.org_id FROM company_prefixes p WHERE p.prefix = substr(c.child_gln, 1, p.length) ORDER BY p.length LIMIT 1),
                 c.org_id) = c.org_id);
    `,
  },
  {
    id: 33,
    name: "Footprints: suppliers' PACT product footprints imported as purchased inputs; transformations found by transaction",
    sql: `
      -- A supplier's WBCSD PACT (Pathfinder v2) ProductFootprint, imported by the organisation that
      -- buys the product: primary data of the importer, kept as received (document) with the figures
      -- the footprint method reads. Never overwritten: a new version of a footprint is a new row.
      CREATE TABLE supplier_footprints (
        pact_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        org_id INTEGER NOT NULL,
        company_name TEXT NOT NULL,
        product_ids TEXT NOT NULL,
        declared_unit TEXT NOT NULL,
        unit TEXT NOT NULL,
        unitary_amount TEXT NOT NULL,
        co2e_per_unit_kg REAL NOT NULL,
        reference_period_end TEXT NOT NULL,
        document TEXT NOT NULL,
        document_hash TEXT NOT NULL,
        imported_by TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        PRIMARY KEY (org_id, pact_id, version)
      );
      -- The other outputs of the transformation that made a lot: the edges drawn in its transaction.
      CREATE INDEX lineage_edges_tx ON lineage_edges (tx_hash);
    `,
  },
  {
    id: 34,
    name: "Federation of EPCIS events: replicas fetched through the holder's EPCIS query interface",
    // Primary data of the federation (services/federation, ADR 0025): EPCIS events replicated from the
    // node that holds them are stored beside local ones, keeping their owner (org_id) and saying where
    // they came from (served_by: the holder's URL; NULL for an event this node captured), when their
    // proof checked against the owner's anchor (verified_at), the proof itself (replica_proof) and the
    // holder's record id (origin_record, for idempotent replication). Replicas are never queued for
    // anchoring nor mapped onto provenance; they belong to the one capture row "federation:replicas"
    // (organisation 0: nobody's capture job, so no member lists or is notified of it).
    sql: `
      ALTER TABLE epcis_events ADD COLUMN served_by TEXT;
      ALTER TABLE epcis_events ADD COLUMN verified_at TEXT;
      ALTER TABLE epcis_events ADD COLUMN replica_proof TEXT;
      ALTER TABLE epcis_events ADD COLUMN origin_record TEXT;
      CREATE UNIQUE INDEX epcis_events_replica ON epcis_events (org_id, origin_record) WHERE origin_record IS NOT NULL;
      CREATE INDEX epcis_events_served_by ON epcis_events (served_by) WHERE served_by IS NOT NULL;
      INSERT INTO epcis_captures (capture_id, org_id, agent, content_type, document, error_behaviour, running, total, created_at, finished_at)
        VALUES ('federation:replicas', 0, 'federation', 'application/ld+json', '', 'proceed', 0, 0, '1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z');
    `,
  },
  {
    id: 35,
    name: "Allocation rules set by governance on-chain, per transformation kind",
    sql: `
      -- AllocationRuleSet(kind, rule) of the provenance registry (docs/adr/0026): the rule footprints
      -- apply to transformations of the kind (mass, dry_matter, economic, none) and the governance
      -- transaction that set it. A rule cleared on-chain (0) has no row: the node's default applies.
      CREATE TABLE allocation_rules (
        kind TEXT PRIMARY KEY,
        rule TEXT NOT NULL CHECK (rule IN ('mass', 'dry_matter', 'economic', 'none')),
        set_block INTEGER NOT NULL,
        set_tx TEXT NOT NULL,
        set_at TEXT NOT NULL
      );
    `,
  },
  {
    id: 36,
    name: "Order terms documents: the off-chain terms whose keccak256 an order's termsHash is",
    sql: `
      -- Primary data (services/settlement/order-terms.ts, docs/adr/0030): one document per order, its
      -- bytes hash-checked against the order's on-chain termsHash when stored (terms_hash is that hash,
      -- kept so a rebuilt index naming another hash for the order shows the document unverified).
      -- owner_org is the party (buyer or seller) whose document it is: the uploader's organisation for a
      -- document uploaded here, the party whose node served it for a replica. served_by is NULL for a
      -- document uploaded here, else the URL of the node it was fetched from (a replica: verified_at set,
      -- never answered to another node). uploaded_by is the uploading agent (NULL for a replica).
      CREATE TABLE order_terms (
        order_id INTEGER PRIMARY KEY,
        terms_hash TEXT NOT NULL,
        content_type TEXT NOT NULL,
        content BLOB NOT NULL,
        size INTEGER NOT NULL,
        owner_org INTEGER NOT NULL,
        uploaded_by TEXT,
        stored_at TEXT NOT NULL,
        served_by TEXT,
        verified_at TEXT
      );
      CREATE INDEX order_terms_served_by ON order_terms (served_by) WHERE served_by IS NOT NULL;
      -- What the parties' nodes answered last, per (order, reading organisation): ok | not_shared |
      -- not_recorded | unreachable | rejected (a document that did not verify), for gaps and freshness
      -- (as federation_fetches does for lots); org_id: the party whose node the answer stands for.
      CREATE TABLE order_terms_fetches (
        order_id INTEGER NOT NULL,
        as_org INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('ok', 'not_shared', 'not_recorded', 'unreachable', 'rejected')),
        org_id INTEGER,
        served_by TEXT,
        detail TEXT NOT NULL,
        fetched_at INTEGER NOT NULL,
        PRIMARY KEY (order_id, as_org)
      );
    `,
  },
  {
    id: 37,
    name: "Pack records of logistic units by SSCC (freight legs of SSCC shipments)",
    sql: `
      -- A shipment of a logistic unit is allocated to the batches packed in it at the time
      -- (services/analytics/transport.ts, unitContentsAt): its pack records, found by SSCC without
      -- scanning every batch record. The query must use this very expression to use the index.
      CREATE INDEX batch_events_packed_sscc ON batch_events (json_extract(details, '$.sscc'), block_number, log_index) WHERE type = 'packed';
    `,
  },
  {
    id: 38,
    name: "Schema objects a catching-up indexer writes without, and rebuilds at the reorg window",
    sql: `
      -- Operational (services/store/catch-up-schema.ts, docs/adr/0035): the journal triggers and the
      -- secondary indexes no indexer handler reads, dropped while the index catches up on final blocks,
      -- each with the statement that creates it again. A row here is an object missing from the schema;
      -- it is dropped and recorded in the same transaction, created again and forgotten in another, so a
      -- crash leaves each object either in the schema or here.
      CREATE TABLE deferred_schema (
        name TEXT PRIMARY KEY,
        type TEXT NOT NULL CHECK (type IN ('index', 'trigger')),
        sql TEXT NOT NULL
      );
    `,
  },
  {
    id: 39,
    name: "Whether each recent block's writes were journalled",
    sql: `
      -- A block indexed while it was already final (the index catching up: more than the reorg window
      -- below the chain head) was written without the reorg journal, so a reorganisation can only be
      -- rolled back to an ancestor above which every block was journalled (services/indexer/engine.ts,
      -- reorganise). Rows from before this migration were all written with the journal or are final.
      ALTER TABLE indexer_blocks ADD COLUMN journalled INTEGER NOT NULL DEFAULT 1 CHECK (journalled IN (0, 1));
    `,
  },
];

/** Tables the indexer derives from the chain: journalled for rollback, emptied for a rebuild. */
export const DERIVED_TABLES = [
  "chain_events",
  "organisations",
  "company_prefixes",
  "locations",
  "agents",
  "credentials",
  "agent_proposals",
  "certifier_types",
  "units_of_measure",
  "transform_kinds",
  "allocation_rules",
  "products",
  "lots",
  "batches",
  "lineage_edges",
  "transformations",
  "batch_events",
  "recalls",
  "logistic_units",
  "anchors",
  "orders",
  "order_deliveries",
  "order_events",
  "withdrawals",
  "grants",
  "service_urls",
  "sales",
  "org_balances",
  "payout_addresses",
  "recall_edges",
  "batch_claims",
  "claim_definitions",
  "notifications",
] as const;
