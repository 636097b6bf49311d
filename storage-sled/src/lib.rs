//! # idpkit-storage-sled
//!
//! A [`GrantStore`] in a [sled](https://docs.rs/sled/0.34) database directory: a pure-Rust
//! embedded store for a single process on a single machine, with no C library to build. It
//! is not shared between processes (sled locks its directory), so it does not serve
//! several provider instances; use a networked store for that.
//!
//! ## Quick start
//!
//! ```
//! use idpkit_core::time::{Duration, OffsetDateTime};
//! use idpkit_core::{GrantStore, Record, RecordKind};
//! use idpkit_storage_sled::SledStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = SledStore::open(dir.path().join("grants"))?;
//! let now = OffsetDateTime::now_utc();
//! let record = Record {
//!     grant_id: Some("grant-1".into()),
//!     payload: b"{}".to_vec(),
//!     expires_at: now + Duration::minutes(10),
//! };
//! store.put(RecordKind::AuthorizationCode, "code-hash", record).await?;
//! assert!(store.get(RecordKind::AuthorizationCode, "code-hash", now).await?.is_some());
//! # Ok(())
//! # }
//! ```
//!
//! ## Layout
//!
//! Three trees for grants:
//! - `idpkit_records`: `kind \0 id` → the record, encoded with a leading format byte
//!   (currently `1`) so the encoding can evolve; a value that does not decode is reported as
//!   [`StoreError::Corrupt`] by `get` and `consume`.
//! - `idpkit_families`: `grant_id 0xFF kind \0 id` → empty, so
//!   [`revoke_grant`](GrantStore::revoke_grant) visits only the family. `0xFF` never occurs
//!   in UTF-8, so one grant's prefix never matches another grant's entries.
//! - `idpkit_expiry`: `expires_at` (unix nanoseconds, big-endian with the sign bit flipped so
//!   that byte order is time order) `kind \0 id` → empty, so
//!   [`purge_expired`](GrantStore::purge_expired) costs what expired, not the whole store.
//!
//! And for registered clients (the [`ClientRegistry`]): `idpkit_clients` (`client_id` → the
//! JSON of its registration), `idpkit_client_origins` (`origin 0xFF client_id` → empty, so
//! the CORS check is one prefix lookup), `idpkit_clients_unused` (anonymous registrations
//! by issue time, for the purge of unused ones) and `idpkit_client_keys` (what each client
//! is indexed under), all changed in one transaction; `idpkit_meta` records the client
//! layout version, and opening a database written before the indexes fills them.
//!
//! Timestamps are kept as `i64` unix nanoseconds, like the SQLite store: times after 2262
//! are stored as 2262.
//!
//! ## Durability and atomicity
//!
//! sled does not make a write durable by itself: it buffers writes in memory and, by
//! default, writes them out every 500 ms. This store therefore calls [`flush`](sled::Tree::flush)
//! (an `fsync`) after every mutating call (`put`, a winning `consume`, `delete`,
//! `revoke_grant`, `purge_expired`) before it returns: once a call has returned `Ok`, its
//! effect survives the process being killed at any moment. `tests/crash.rs` checks this
//! with a child process killed by `SIGKILL`.
//!
//! Every change that touches a record and its index entries runs in one sled transaction
//! across the three trees, so the indexes never disagree with the records they point to
//! (except behind a record that no longer decodes: deleting or replacing it leaves its old
//! index entries, which `revoke_grant` and `purge_expired` drop when they meet them).
//! `consume` is a compare-and-swap on the record: of any number of concurrent calls in the
//! process exactly one swaps `consumed_at` in and wins; the others re-read the record and
//! see it consumed.
//!
//! All sled calls run on tokio's blocking pool, so the async executor never waits on the
//! disk.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::ops::Bound;
use std::path::Path;

use std::sync::Arc;

use async_trait::async_trait;
use idpkit_core::backend::{anonymous_issued_at, client_from_json, client_to_json};
use idpkit_core::time::OffsetDateTime;
use idpkit_core::{Client, ClientRegistry, ClientStore};
use idpkit_core::{Consume, GrantStore, Record, RecordKind, StoreError, Stored};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, Transactional, TransactionalTree,
};
use sled::{Db, IVec, Tree};

/// The tree holding the records.
const RECORDS: &str = "idpkit_records";
/// The tree indexing grant families.
const FAMILIES: &str = "idpkit_families";
/// The tree indexing expiry times.
const EXPIRY: &str = "idpkit_expiry";
/// The tree holding registered clients (`client_id` → the JSON of its registration).
const CLIENTS: &str = "idpkit_clients";
/// The CORS origin index: `origin 0xFF client_id` → empty.
const CLIENT_ORIGINS: &str = "idpkit_client_origins";
/// Anonymous registrations not kept, by issue time: `issued_at` (sortable) `client_id` →
/// empty.
const CLIENTS_UNUSED: &str = "idpkit_clients_unused";
/// What each client is indexed under, so that replacing or removing it drops exactly those
/// entries (even when its stored JSON no longer decodes): `client_id` → [`ClientKeys`].
const CLIENT_KEYS: &str = "idpkit_client_keys";
/// Versions of the layout: `clients` → the client layout version (a `u32`, big-endian).
const META: &str = "idpkit_meta";
/// Client layout 1: the origin and unused indexes above exist and are complete.
const CLIENT_LAYOUT: u32 = 1;

/// The current record encoding.
const FORMAT_V1: u8 = 1;
/// Separates a grant id from the record key in the family index (never valid in UTF-8).
const FAMILY_SEP: u8 = 0xFF;
/// How many expired entries one purge transaction handles.
const PURGE_BATCH: usize = 256;

/// A grant store in a sled database. Cheap to clone; clones share the database.
#[derive(Clone)]
pub struct SledStore {
    db: Db,
    records: Tree,
    families: Tree,
    expiry: Tree,
    clients: Tree,
    client_origins: Tree,
    clients_unused: Tree,
    client_keys: Tree,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `Tree::len` walks the whole tree, so nothing is counted here.
        f.debug_struct("SledStore")
            .field("records", &RECORDS)
            .field("families", &FAMILIES)
            .field("expiry", &EXPIRY)
            .finish_non_exhaustive()
    }
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::backend(e)
}

fn tx_backend(e: TransactionError<std::convert::Infallible>) -> StoreError {
    match e {
        TransactionError::Storage(e) => backend(e),
        TransactionError::Abort(never) => match never {},
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<std::convert::Infallible>>;

fn nanos(t: OffsetDateTime) -> i64 {
    idpkit_core::backend::unix_nanos(t)
}

/// Big-endian with the sign bit flipped: byte order is numeric order for every `i64`.
fn sortable(n: i64) -> [u8; 8] {
    ((n as u64) ^ (1 << 63)).to_be_bytes()
}

fn record_key(kind: RecordKind, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(kind.as_str().len() + 1 + id.len());
    key.extend_from_slice(kind.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key
}

fn family_prefix(grant_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(grant_id.len() + 1);
    key.extend_from_slice(grant_id.as_bytes());
    key.push(FAMILY_SEP);
    key
}

fn family_key(grant_id: &str, record_key: &[u8]) -> Vec<u8> {
    let mut key = family_prefix(grant_id);
    key.extend_from_slice(record_key);
    key
}

fn expiry_key(expires_at: i64, record_key: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + record_key.len());
    key.extend_from_slice(&sortable(expires_at));
    key.extend_from_slice(record_key);
    key
}

/// A record as encoded in the records tree, times as unix nanoseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    grant_id: Option<String>,
    payload: Vec<u8>,
    expires_at: i64,
    consumed_at: Option<i64>,
}

impl Entry {
    fn new(record: Record) -> Self {
        Self {
            grant_id: record.grant_id,
            payload: record.payload,
            expires_at: nanos(record.expires_at),
            consumed_at: None,
        }
    }

    /// Format 1: `[1] [expires_at: i64 BE] [0 | 1 consumed_at: i64 BE]
    /// [0 | 1 len: u32 BE grant_id] payload…`.
    fn encode(&self) -> Vec<u8> {
        let grant_len = self.grant_id.as_ref().map_or(0, |g| 5 + g.len());
        let mut out = Vec::with_capacity(1 + 8 + 9 + 1 + grant_len + self.payload.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&self.expires_at.to_be_bytes());
        match self.consumed_at {
            Some(at) => {
                out.push(1);
                out.extend_from_slice(&at.to_be_bytes());
            }
            None => out.push(0),
        }
        match &self.grant_id {
            Some(g) => {
                out.push(1);
                // Grant ids are short; one longer than 4 GiB cannot be held in memory here.
                out.extend_from_slice(&u32::try_from(g.len()).unwrap_or(u32::MAX).to_be_bytes());
                out.extend_from_slice(g.as_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&self.payload);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut r = Reader(bytes);
        match r.byte()? {
            FORMAT_V1 => {}
            v => return Err(format!("unknown format version {v}")),
        }
        let expires_at = r.i64()?;
        let consumed_at = match r.byte()? {
            0 => None,
            1 => Some(r.i64()?),
            f => return Err(format!("bad consumed flag {f}")),
        };
        let grant_id = match r.byte()? {
            0 => None,
            1 => {
                let len = r.u32()? as usize;
                let raw = r.take(len)?;
                Some(
                    String::from_utf8(raw.to_vec())
                        .map_err(|_| "grant id is not UTF-8".to_owned())?,
                )
            }
            f => return Err(format!("bad grant flag {f}")),
        };
        Ok(Self {
            grant_id,
            payload: r.0.to_vec(),
            expires_at,
            consumed_at,
        })
    }

    fn live(&self, now: i64) -> bool {
        self.expires_at > now
    }

    fn record(&self) -> Result<Record, String> {
        Ok(Record {
            grant_id: self.grant_id.clone(),
            payload: self.payload.clone(),
            expires_at: time_of(self.expires_at)?,
        })
    }

    /// The index entries that point at this record.
    fn index_keys(&self, record_key: &[u8]) -> (Option<Vec<u8>>, Vec<u8>) {
        (
            self.grant_id.as_deref().map(|g| family_key(g, record_key)),
            expiry_key(self.expires_at, record_key),
        )
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated".to_owned());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn i64(&mut self) -> Result<i64, String> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(i64::from_be_bytes(b))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(b))
    }
}

fn time_of(n: i64) -> Result<OffsetDateTime, String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n))
        .map_err(|e| format!("bad timestamp {n}: {e}"))
}

fn corrupt(kind: RecordKind, id: &str, reason: String) -> StoreError {
    StoreError::Corrupt {
        kind: kind.as_str(),
        id: id.to_owned(),
        reason,
    }
}

/// Removes a record and, if it decodes, the index entries pointing at it. Returns whether a
/// record was there, and whether it was corrupt (its index entries, if any, are then left
/// behind; `revoke_grant` and `purge_expired` drop such stale entries when they meet them).
fn remove_record(
    records: &TransactionalTree,
    families: &TransactionalTree,
    expiry: &TransactionalTree,
    rkey: &[u8],
) -> TxResult<Removed> {
    let Some(old) = records.remove(rkey)? else {
        return Ok(Removed::Missing);
    };
    match Entry::decode(&old) {
        Ok(entry) => {
            let (family, exp) = entry.index_keys(rkey);
            if let Some(family) = family {
                families.remove(family)?;
            }
            expiry.remove(exp)?;
            Ok(Removed::Record)
        }
        Err(_) => Ok(Removed::Corrupt),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removed {
    Missing,
    Record,
    Corrupt,
}

fn warn_corrupt(what: &str, rkey: &[u8]) {
    tracing::warn!(
        key = %String::from_utf8_lossy(rkey).replace('\0', "/"),
        "idpkit-storage-sled: {what} a record that does not decode; its index entries are \
         cleaned up lazily"
    );
}

/// What a client is indexed under: its CORS origins and, for an anonymous registration not
/// kept, its issue time. Encoded `[1] [0 | 1 unused_since: i64 BE] origin (0xFF origin)*`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct ClientKeys {
    unused_since: Option<i64>,
    origins: Vec<String>,
}

impl ClientKeys {
    fn of(client: &Client) -> Self {
        Self {
            unused_since: anonymous_issued_at(client),
            origins: client.allowed_origins().to_vec(),
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT_V1];
        match self.unused_since {
            Some(at) => {
                out.push(1);
                out.extend_from_slice(&at.to_be_bytes());
            }
            None => out.push(0),
        }
        for (i, o) in self.origins.iter().enumerate() {
            if i > 0 {
                out.push(FAMILY_SEP);
            }
            out.extend_from_slice(o.as_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut r = Reader(bytes);
        match r.byte()? {
            FORMAT_V1 => {}
            v => return Err(format!("unknown format version {v}")),
        }
        let unused_since = match r.byte()? {
            0 => None,
            1 => Some(r.i64()?),
            f => return Err(format!("bad unused flag {f}")),
        };
        let origins = if r.0.is_empty() {
            Vec::new()
        } else {
            r.0.split(|b| *b == FAMILY_SEP)
                .map(|o| {
                    String::from_utf8(o.to_vec()).map_err(|_| "origin is not UTF-8".to_owned())
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Self {
            unused_since,
            origins,
        })
    }
}

fn origin_key(origin: &str, client_id: &str) -> Vec<u8> {
    let mut key = origin_prefix(origin);
    key.extend_from_slice(client_id.as_bytes());
    key
}

/// `0xFF` never occurs in UTF-8: one origin's prefix never matches another origin's keys.
fn origin_prefix(origin: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(origin.len() + 1);
    key.extend_from_slice(origin.as_bytes());
    key.push(FAMILY_SEP);
    key
}

fn unused_key(issued_at: i64, client_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + client_id.len());
    key.extend_from_slice(&sortable(issued_at));
    key.extend_from_slice(client_id.as_bytes());
    key
}

/// Drops every index entry of `client_id` (as its keys record lists them) and the record.
fn unindex_client(
    origins: &TransactionalTree,
    unused: &TransactionalTree,
    keys: &TransactionalTree,
    client_id: &str,
) -> TxResult<()> {
    let Some(raw) = keys.remove(client_id.as_bytes())? else {
        return Ok(());
    };
    // Written only by this store; a record that does not decode has nothing to drop.
    let Ok(old) = ClientKeys::decode(&raw) else {
        return Ok(());
    };
    for o in &old.origins {
        origins.remove(origin_key(o, client_id))?;
    }
    if let Some(at) = old.unused_since {
        unused.remove(unused_key(at, client_id))?;
    }
    Ok(())
}

/// Writes the index entries of `client_id` and its keys record.
fn index_client(
    origins: &TransactionalTree,
    unused: &TransactionalTree,
    all_keys: &TransactionalTree,
    client_id: &str,
    keys: &ClientKeys,
) -> TxResult<()> {
    for o in &keys.origins {
        origins.insert(origin_key(o, client_id), IVec::default())?;
    }
    if let Some(at) = keys.unused_since {
        unused.insert(unused_key(at, client_id), IVec::default())?;
    }
    all_keys.insert(client_id.as_bytes(), keys.encode())?;
    Ok(())
}

impl SledStore {
    /// Opens (or creates) the database directory at `path` with sled's default configuration.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::from_db(sled::open(path).map_err(backend)?)
    }

    /// Uses an already opened database (for a custom [`sled::Config`]). The store keeps its
    /// data in three trees named `idpkit_*` and flushes the whole database after each write.
    pub fn from_db(db: Db) -> Result<Self, StoreError> {
        let store = Self {
            records: db.open_tree(RECORDS).map_err(backend)?,
            families: db.open_tree(FAMILIES).map_err(backend)?,
            expiry: db.open_tree(EXPIRY).map_err(backend)?,
            clients: db.open_tree(CLIENTS).map_err(backend)?,
            client_origins: db.open_tree(CLIENT_ORIGINS).map_err(backend)?,
            clients_unused: db.open_tree(CLIENTS_UNUSED).map_err(backend)?,
            client_keys: db.open_tree(CLIENT_KEYS).map_err(backend)?,
            db,
        };
        store.migrate_clients()?;
        Ok(store)
    }

    /// Brings a database written before the client indexes (no layout version) up to
    /// [`CLIENT_LAYOUT`]: every stored client is indexed, then the version is recorded.
    /// Idempotent, so an interrupted migration simply runs again at the next open (sled
    /// locks the directory: nothing else writes meanwhile).
    fn migrate_clients(&self) -> Result<(), StoreError> {
        let meta = self.db.open_tree(META).map_err(backend)?;
        let version = meta
            .get("clients")
            .map_err(backend)?
            .and_then(|v| <[u8; 4]>::try_from(v.as_ref()).ok())
            .map_or(0, u32::from_be_bytes);
        if version >= CLIENT_LAYOUT {
            return Ok(());
        }
        let mut indexed = 0usize;
        for item in self.clients.iter() {
            let (k, v) = item.map_err(backend)?;
            let id = String::from_utf8_lossy(&k).into_owned();
            match client_from_json(&id, &v) {
                Ok(client) => {
                    let keys = ClientKeys::of(&client);
                    self.client_trees()
                        .transaction(|(_, origins, unused, all_keys)| {
                            unindex_client(origins, unused, all_keys, &id)?;
                            index_client(origins, unused, all_keys, &id, &keys)
                        })
                        .map_err(tx_backend)?;
                    indexed += 1;
                }
                // `find` reports it as corrupt; there is nothing to index.
                Err(e) => {
                    tracing::warn!(client_id = %id, error = %e, "idpkit-storage-sled: a stored client does not decode; not indexed")
                }
            }
        }
        meta.insert("clients", &CLIENT_LAYOUT.to_be_bytes())
            .map_err(backend)?;
        self.flush()?;
        tracing::info!(
            clients = indexed,
            version = CLIENT_LAYOUT,
            "idpkit-storage-sled: client indexes filled"
        );
        Ok(())
    }

    fn client_trees(&self) -> (&Tree, &Tree, &Tree, &Tree) {
        (
            &self.clients,
            &self.client_origins,
            &self.clients_unused,
            &self.client_keys,
        )
    }

    /// Runs `f` on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&SledStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::backend(format!("sled worker failed: {e}")))?
    }

    /// Makes every write so far durable.
    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(drop).map_err(backend)
    }

    fn trees(&self) -> (&Tree, &Tree, &Tree) {
        (&self.records, &self.families, &self.expiry)
    }
}

#[async_trait]
impl GrantStore for SledStore {
    async fn put(&self, kind: RecordKind, id: &str, record: Record) -> Result<(), StoreError> {
        let rkey = record_key(kind, id);
        let entry = Entry::new(record);
        self.run(move |s| {
            let value = entry.encode();
            let (family, exp) = entry.index_keys(&rkey);
            let replaced = s
                .trees()
                .transaction(|(records, families, expiry)| {
                    let removed = remove_record(records, families, expiry, &rkey)?;
                    records.insert(rkey.as_slice(), value.as_slice())?;
                    if let Some(family) = &family {
                        families.insert(family.as_slice(), IVec::default())?;
                    }
                    expiry.insert(exp.as_slice(), IVec::default())?;
                    Ok(removed)
                })
                .map_err(tx_backend)?;
            if replaced == Removed::Corrupt {
                warn_corrupt("put replaced", &rkey);
            }
            s.flush()
        })
        .await
    }

    async fn increment(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let rkey = record_key(RecordKind::Counter, id);
        let (exp_n, now_n) = (nanos(expires_at), nanos(now));
        self.run(move |s| {
            // A transaction over the record and its expiry index: sled reruns it on a
            // conflicting write, so concurrent increments serialise and none is lost. A
            // counter that does not decode starts again, like an expired one.
            let count = s
                .trees()
                .transaction(|(records, families, expiry)| {
                    let old = records.get(rkey.as_slice())?;
                    let count = old
                        .as_deref()
                        .and_then(|raw| Entry::decode(raw).ok())
                        .filter(|e| e.live(now_n))
                        .and_then(|e| idpkit_core::backend::counter_value(&e.payload).ok())
                        .map_or(1, |n| n.saturating_add(1));
                    remove_record(records, families, expiry, &rkey)?;
                    let entry = Entry {
                        grant_id: None,
                        payload: count.to_string().into_bytes(),
                        expires_at: exp_n,
                        consumed_at: None,
                    };
                    records.insert(rkey.as_slice(), entry.encode())?;
                    expiry.insert(entry.index_keys(&rkey).1, IVec::default())?;
                    Ok(count)
                })
                .map_err(tx_backend)?;
            s.flush()?;
            Ok(count)
        })
        .await
    }

    async fn get(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Stored>, StoreError> {
        let id = id.to_owned();
        self.run(move |s| {
            let Some(raw) = s.records.get(record_key(kind, &id)).map_err(backend)? else {
                return Ok(None);
            };
            let entry = Entry::decode(&raw).map_err(|r| corrupt(kind, &id, r))?;
            if !entry.live(nanos(now)) {
                return Ok(None);
            }
            let record = entry.record().map_err(|r| corrupt(kind, &id, r))?;
            let consumed_at = entry
                .consumed_at
                .map(time_of)
                .transpose()
                .map_err(|r| corrupt(kind, &id, r))?;
            Ok(Some(Stored {
                record,
                consumed_at,
            }))
        })
        .await
    }

    async fn consume(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Consume, StoreError> {
        let id = id.to_owned();
        let now_n = nanos(now);
        self.run(move |s| {
            let rkey = record_key(kind, &id);
            // Compare-and-swap: the swap only succeeds against the exact bytes read, so of
            // all concurrent callers exactly one moves the record from unconsumed to
            // consumed; a caller whose swap fails re-reads and sees the winner's write (or a
            // `put` that replaced the record in between).
            loop {
                let Some(raw) = s.records.get(&rkey).map_err(backend)? else {
                    return Ok(Consume::NotFound);
                };
                let mut entry = Entry::decode(&raw).map_err(|r| corrupt(kind, &id, r))?;
                if !entry.live(now_n) {
                    return Ok(Consume::NotFound);
                }
                let record = entry.record().map_err(|r| corrupt(kind, &id, r))?;
                if let Some(at) = entry.consumed_at {
                    return Ok(Consume::AlreadyConsumed {
                        record,
                        consumed_at: time_of(at).map_err(|r| corrupt(kind, &id, r))?,
                    });
                }
                entry.consumed_at = Some(now_n);
                let swapped = s
                    .records
                    .compare_and_swap(&rkey, Some(&raw), Some(entry.encode()))
                    .map_err(backend)?;
                if swapped.is_ok() {
                    s.flush()?;
                    return Ok(Consume::Consumed(record));
                }
            }
        })
        .await
    }

    async fn delete(&self, kind: RecordKind, id: &str) -> Result<(), StoreError> {
        let rkey = record_key(kind, id);
        self.run(move |s| {
            let removed = s
                .trees()
                .transaction(|(records, families, expiry)| {
                    remove_record(records, families, expiry, &rkey)
                })
                .map_err(tx_backend)?;
            match removed {
                Removed::Missing => Ok(()),
                Removed::Corrupt => {
                    warn_corrupt("delete removed", &rkey);
                    s.flush()
                }
                Removed::Record => s.flush(),
            }
        })
        .await
    }

    async fn revoke_grant(&self, grant_id: &str) -> Result<u64, StoreError> {
        let grant_id = grant_id.to_owned();
        self.run(move |s| {
            let prefix = family_prefix(&grant_id);
            let members = s
                .families
                .scan_prefix(&prefix)
                .keys()
                .collect::<Result<Vec<IVec>, _>>()
                .map_err(backend)?;
            if members.is_empty() {
                return Ok(0);
            }
            let (deleted, corrupt) = s
                .trees()
                .transaction(|(records, families, expiry)| {
                    let mut deleted = 0u64;
                    let mut corrupt = Vec::new();
                    for member in &members {
                        let rkey = &member[prefix.len()..];
                        let belongs = match records.get(rkey)? {
                            // A stale entry: the record is gone.
                            None => false,
                            Some(raw) => match Entry::decode(&raw) {
                                Ok(e) => e.grant_id.as_deref() == Some(grant_id.as_str()),
                                // Indexed under this grant and unreadable: drop it too.
                                Err(_) => true,
                            },
                        };
                        if belongs {
                            match remove_record(records, families, expiry, rkey)? {
                                Removed::Record => deleted += 1,
                                Removed::Corrupt => {
                                    deleted += 1;
                                    corrupt.push(rkey.to_vec());
                                }
                                Removed::Missing => {}
                            }
                        }
                        // Removes the entry when `remove_record` did not (stale entries).
                        families.remove(member.clone())?;
                    }
                    Ok((deleted, corrupt))
                })
                .map_err(tx_backend)?;
            for rkey in corrupt {
                warn_corrupt("revoke_grant removed", &rkey);
            }
            s.flush()?;
            Ok(deleted)
        })
        .await
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let now_n = nanos(now);
        self.run(move |s| {
            // Every entry with `expires_at <= now` sorts below the first key of `now + 1`.
            let upper = match now_n.checked_add(1) {
                Some(n) => Bound::Excluded(sortable(n).to_vec()),
                None => Bound::Unbounded,
            };
            let mut lower: Bound<Vec<u8>> = Bound::Unbounded;
            let mut deleted = 0u64;
            loop {
                let batch = s
                    .expiry
                    .range::<Vec<u8>, _>((lower.clone(), upper.clone()))
                    .keys()
                    .take(PURGE_BATCH)
                    .collect::<Result<Vec<IVec>, _>>()
                    .map_err(backend)?;
                let Some(last) = batch.last() else {
                    break;
                };
                lower = Bound::Excluded(last.to_vec());
                let (n, corrupt) = s
                    .trees()
                    .transaction(|(records, families, expiry)| {
                        let mut n = 0u64;
                        let mut corrupt = Vec::new();
                        for key in &batch {
                            let Some(rkey) = key.get(8..) else {
                                expiry.remove(key.clone())?;
                                continue;
                            };
                            let expired = match records.get(rkey)? {
                                None => false,
                                Some(raw) => match Entry::decode(&raw) {
                                    // Only the entry matching the record's current expiry
                                    // counts; others are stale and just dropped.
                                    Ok(e) => sortable(e.expires_at) == key[..8] && !e.live(now_n),
                                    Err(_) => true,
                                },
                            };
                            if expired {
                                match remove_record(records, families, expiry, rkey)? {
                                    Removed::Record => n += 1,
                                    Removed::Corrupt => {
                                        n += 1;
                                        corrupt.push(rkey.to_vec());
                                    }
                                    Removed::Missing => {}
                                }
                            }
                            expiry.remove(key.clone())?;
                        }
                        Ok((n, corrupt))
                    })
                    .map_err(tx_backend)?;
                for rkey in corrupt {
                    warn_corrupt("purge_expired removed", &rkey);
                }
                deleted += n;
                if batch.len() < PURGE_BATCH {
                    break;
                }
            }
            s.flush()?;
            Ok(deleted)
        })
        .await
    }
}

#[async_trait]
impl ClientStore for SledStore {
    async fn find(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        let id = client_id.to_owned();
        self.run(
            move |s| match s.clients.get(id.as_bytes()).map_err(backend)? {
                Some(v) => client_from_json(&id, &v).map(Some),
                None => Ok(None),
            },
        )
        .await
    }

    /// One prefix lookup in the origin index.
    async fn origin_allowed(&self, origin: &str) -> Result<bool, StoreError> {
        let prefix = origin_prefix(origin);
        self.run(move |s| {
            Ok(s.client_origins
                .scan_prefix(&prefix)
                .keys()
                .next()
                .transpose()
                .map_err(backend)?
                .is_some())
        })
        .await
    }
}

#[async_trait]
impl ClientRegistry for SledStore {
    /// One transaction over the clients and their indexes.
    async fn register(&self, client: &Client) -> Result<(), StoreError> {
        let (id, json) = (client.id().to_owned(), client_to_json(client));
        let keys = ClientKeys::of(client);
        self.run(move |s| {
            s.client_trees()
                .transaction(|(clients, origins, unused, all_keys)| {
                    unindex_client(origins, unused, all_keys, &id)?;
                    clients.insert(id.as_bytes(), json.as_slice())?;
                    index_client(origins, unused, all_keys, &id, &keys)
                })
                .map_err(tx_backend)?;
            s.flush()
        })
        .await
    }

    async fn remove(&self, client_id: &str) -> Result<bool, StoreError> {
        let id = client_id.to_owned();
        self.run(move |s| {
            let existed = s
                .client_trees()
                .transaction(|(clients, origins, unused, all_keys)| {
                    unindex_client(origins, unused, all_keys, &id)?;
                    Ok(clients.remove(id.as_bytes())?.is_some())
                })
                .map_err(tx_backend)?;
            s.flush()?;
            Ok(existed)
        })
        .await
    }

    async fn unused_registrations(
        &self,
        issued_at_or_before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let until = issued_at_or_before.unix_timestamp();
        self.run(move |s| {
            let upper = match until.checked_add(1) {
                Some(n) => Bound::Excluded(sortable(n).to_vec()),
                None => Bound::Unbounded,
            };
            s.clients_unused
                .range::<Vec<u8>, _>((Bound::Unbounded, upper))
                .keys()
                .take(limit)
                .map(|k| {
                    let k = k.map_err(backend)?;
                    Ok(String::from_utf8_lossy(k.get(8..).unwrap_or_default()).into_owned())
                })
                .collect()
        })
        .await
    }

    async fn keep_registration(&self, client_id: &str) -> Result<(), StoreError> {
        let id = client_id.to_owned();
        self.run(move |s| {
            let changed = s
                .client_trees()
                .transaction(|(_, _, unused, all_keys)| {
                    let Some(raw) = all_keys.get(id.as_bytes())? else {
                        return Ok(false);
                    };
                    let Ok(mut keys) = ClientKeys::decode(&raw) else {
                        return Ok(false);
                    };
                    let Some(at) = keys.unused_since.take() else {
                        return Ok(false);
                    };
                    unused.remove(unused_key(at, &id))?;
                    all_keys.insert(id.as_bytes(), keys.encode())?;
                    Ok(true)
                })
                .map_err(tx_backend)?;
            if changed {
                s.flush()?;
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trips_in_format_1() {
        let entry = Entry {
            grant_id: Some("g\0with nul".into()),
            payload: vec![0, 1, 0xFF, b'{'],
            expires_at: -5,
            consumed_at: Some(i64::MAX),
        };
        let bytes = entry.encode();
        assert_eq!(bytes[0], FORMAT_V1);
        assert_eq!(Entry::decode(&bytes), Ok(entry));
        let bare = Entry {
            grant_id: None,
            payload: Vec::new(),
            expires_at: 0,
            consumed_at: None,
        };
        assert_eq!(Entry::decode(&bare.encode()), Ok(bare));
    }

    #[test]
    fn undecodable_entries_are_rejected() {
        assert!(Entry::decode(&[]).is_err());
        assert!(Entry::decode(&[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(Entry::decode(&[FORMAT_V1, 0, 0]).is_err());
        assert!(Entry::decode(&[FORMAT_V1, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0]).is_err());
        let mut truncated_grant = vec![FORMAT_V1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9];
        truncated_grant.extend_from_slice(b"abc");
        assert!(Entry::decode(&truncated_grant).is_err());
    }

    #[test]
    fn expiry_keys_sort_in_time_order() {
        let times = [i64::MIN, -1_000, -1, 0, 1, 1_000, i64::MAX];
        for pair in times.windows(2) {
            assert!(sortable(pair[0]) < sortable(pair[1]), "{pair:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn undecodable_record_is_reported_corrupt_and_can_be_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(dir.path().join("db")).expect("open");
        let now = OffsetDateTime::now_utc();
        let rkey = record_key(RecordKind::Session, "broken");
        store.records.insert(&rkey, &[9, 9, 9]).expect("insert");
        let err = store
            .get(RecordKind::Session, "broken", now)
            .await
            .expect_err("a record that does not decode must be an error");
        assert!(
            matches!(err, StoreError::Corrupt { kind: "session", ref id, .. } if id == "broken"),
            "{err:?}"
        );
        assert!(matches!(
            store.consume(RecordKind::Session, "broken", now).await,
            Err(StoreError::Corrupt { .. })
        ));
        store
            .delete(RecordKind::Session, "broken")
            .await
            .expect("delete");
        assert!(
            store
                .get(RecordKind::Session, "broken", now)
                .await
                .expect("get")
                .is_none()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn indexes_follow_put_consume_delete_revoke_and_purge() {
        use idpkit_core::time::Duration;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(dir.path().join("db")).expect("open");
        let now = OffsetDateTime::now_utc();
        let rec = |grant: Option<&str>, exp| Record {
            grant_id: grant.map(str::to_owned),
            payload: b"p".to_vec(),
            expires_at: exp,
        };
        let sizes = |s: &SledStore| (s.records.len(), s.families.len(), s.expiry.len());

        store
            .put(
                RecordKind::RefreshToken,
                "a",
                rec(Some("g1"), now + Duration::hours(1)),
            )
            .await
            .expect("put");
        assert_eq!(sizes(&store), (1, 1, 1));
        // Replacing moves the record to another family and expiry.
        store
            .put(
                RecordKind::RefreshToken,
                "a",
                rec(Some("g2"), now + Duration::hours(2)),
            )
            .await
            .expect("put");
        assert_eq!(sizes(&store), (1, 1, 1));
        assert_eq!(store.revoke_grant("g1").await.expect("revoke"), 0);
        store
            .consume(RecordKind::RefreshToken, "a", now)
            .await
            .expect("consume");
        assert_eq!(sizes(&store), (1, 1, 1));
        assert_eq!(store.revoke_grant("g2").await.expect("revoke"), 1);
        assert_eq!(sizes(&store), (0, 0, 0));

        store
            .put(
                RecordKind::Session,
                "s",
                rec(None, now + Duration::hours(1)),
            )
            .await
            .expect("put");
        assert_eq!(sizes(&store), (1, 0, 1));
        store
            .delete(RecordKind::Session, "s")
            .await
            .expect("delete");
        assert_eq!(sizes(&store), (0, 0, 0));

        for i in 0..(PURGE_BATCH + 10) {
            store
                .put(
                    RecordKind::AccessToken,
                    &format!("e{i}"),
                    rec(Some("g3"), now),
                )
                .await
                .expect("put");
        }
        store
            .put(
                RecordKind::AccessToken,
                "live",
                rec(Some("g3"), now + Duration::hours(1)),
            )
            .await
            .expect("put");
        let purged = store.purge_expired(now).await.expect("purge");
        assert_eq!(purged, PURGE_BATCH as u64 + 10);
        assert_eq!(sizes(&store), (1, 1, 1));
        assert_eq!(store.revoke_grant("g3").await.expect("revoke"), 1);
        assert_eq!(sizes(&store), (0, 0, 0));
    }
}
