//! # idpkit-storage-postgres
//!
//! A [`GrantStore`] (and a [`ClientRegistry`]) in PostgreSQL: what a deployment moves to when it runs many instances.
//! Every instance connects to the same database; codes, refresh tokens, sessions and consents
//! are shared, and `consume` is a single `UPDATE … WHERE consumed_at IS NULL RETURNING …`
//! statement, so exactly one instance wins a race.
//!
//! Connections come from a pool (deadpool-postgres) that replaces broken connections, so the
//! store reconnects by itself after the server restarts; calls made while it is down fail
//! with [`StoreError::Backend`] (answered as `server_error`), and nothing is half-written:
//! every call is one statement.
//!
//! The schema is created and migrated at [`PostgresStore::connect`], under an advisory lock
//! so that instances starting together do not race. Tables live in a schema of your choice
//! (default `public`) with an optional table-name prefix.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use idpkit_core::time::OffsetDateTime;
use std::sync::Arc;

use idpkit_core::backend::{anonymous_issued_at, client_from_json, client_to_json};
use idpkit_core::backend::{from_unix_nanos, unix_nanos};
use idpkit_core::{
    Client, ClientRegistry, ClientStore, Consume, GrantStore, Record, RecordKind, StoreError,
    Stored,
};
use tokio_postgres::{NoTls, Row};

/// Connection options.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    schema: String,
    prefix: String,
    pool_size: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            schema: "public".into(),
            prefix: "idpkit_".into(),
            pool_size: 16,
        }
    }
}

impl PostgresOptions {
    /// The schema holding the tables (created if missing). Default `public`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Prefix of the table names. Default `idpkit_`.
    pub fn table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Largest number of pooled connections. Default 16.
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n.max(1);
        self
    }
}

/// Schema (≤ 32) and prefix (≤ 16) are short enough that every derived name
/// (`<schema>_<prefix>grants_family`, `<prefix>grants_schema_version`, ...) stays under
/// PostgreSQL's 63-byte identifier limit.
fn identifier(what: &str, s: &str, max: usize) -> Result<String, StoreError> {
    let ok = !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(StoreError::backend(format!(
            "postgres: {what} {s:?} must be 1-{max} characters of [a-z0-9_]"
        )))
    }
}

struct Sql {
    put: String,
    get: String,
    consume: String,
    consumed: String,
    increment: String,
    delete: String,
    revoke: String,
    purge: String,
    find_client: String,
    upsert_client: String,
    remove_client: String,
    set_unused: String,
    forget_origins: String,
    add_origins: String,
    origin_allowed: String,
    unused: String,
    keep: String,
}

/// A grant store in PostgreSQL. Cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    sql: std::sync::Arc<Sql>,
    table: String,
    clients: String,
    origins: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

fn backend(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
    StoreError::backend(e)
}

fn record_of(row: &Row) -> Result<(Record, Option<i64>), StoreError> {
    let expires: i64 = row.try_get(2).map_err(backend)?;
    Ok((
        Record {
            grant_id: row.try_get(0).map_err(backend)?,
            payload: row.try_get(1).map_err(backend)?,
            expires_at: from_unix_nanos(expires),
        },
        row.try_get(3).map_err(backend)?,
    ))
}

/// The client tables: `clients` (id → registration, `unused_since`) and `origins` (origin →
/// client id), and the prefix of their index names (unqualified: an index lives in its
/// table's schema).
struct ClientTables<'a> {
    clients: &'a str,
    origins: &'a str,
    index_prefix: &'a str,
}

/// Schema migrations, applied in order; `{table}_schema_version` records how many ran.
fn migrations(table: &str, t: &ClientTables<'_>) -> Vec<String> {
    let (clients, origins, ix) = (t.clients, t.origins, t.index_prefix);
    vec![
        format!(
            "CREATE TABLE {table} (
            kind        TEXT   NOT NULL,
            id          TEXT   NOT NULL,
            grant_id    TEXT,
            payload     BYTEA  NOT NULL,
            expires_at  BIGINT NOT NULL,
            consumed_at BIGINT,
            PRIMARY KEY (kind, id)
         );
         CREATE INDEX {prefix}family ON {table} (grant_id) WHERE grant_id IS NOT NULL;
         CREATE INDEX {prefix}expiry ON {table} (expires_at);",
            prefix = table.replace('.', "_")
        ),
        format!("CREATE TABLE {clients} (id TEXT PRIMARY KEY, registration BYTEA NOT NULL);"),
        // 3: the client indexes, written with the client: CORS origins (origin → client, so
        // `origin_allowed` is one lookup) and anonymous registrations by issue time (for the
        // purge of unused ones). `backfill` fills them from the clients already stored.
        format!(
            "CREATE TABLE {origins} (
               origin    TEXT NOT NULL,
               client_id TEXT NOT NULL REFERENCES {clients} (id) ON DELETE CASCADE,
               PRIMARY KEY (origin, client_id)
             );
             CREATE INDEX {ix}client_origins_client ON {origins} (client_id);
             ALTER TABLE {clients} ADD COLUMN unused_since BIGINT;
             CREATE INDEX {ix}clients_unused ON {clients} (unused_since, id)
               WHERE unused_since IS NOT NULL;"
        ),
    ]
}

/// Writes the index entries of `client` (already in the clients table), replacing its old
/// ones, inside the caller's transaction.
async fn index_client(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &Sql,
    client: &Client,
) -> Result<(), StoreError> {
    let id = client.id();
    let origins: Vec<&str> = client
        .allowed_origins()
        .iter()
        .map(String::as_str)
        .collect();
    let unused = tx.prepare_cached(&sql.set_unused).await.map_err(backend)?;
    tx.execute(&unused, &[&id, &anonymous_issued_at(client)])
        .await
        .map_err(backend)?;
    let forget = tx
        .prepare_cached(&sql.forget_origins)
        .await
        .map_err(backend)?;
    tx.execute(&forget, &[&id]).await.map_err(backend)?;
    if !origins.is_empty() {
        let add = tx.prepare_cached(&sql.add_origins).await.map_err(backend)?;
        tx.execute(&add, &[&id, &origins]).await.map_err(backend)?;
    }
    Ok(())
}

impl PostgresStore {
    /// Connects with a URL (`postgres://user@host:port/db`) and default options, creating
    /// or migrating the schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects with explicit options.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let schema = identifier("schema", &options.schema, 32)?;
        let prefix = if options.prefix.is_empty() {
            String::new()
        } else {
            identifier("table prefix", &options.prefix, 16)?
        };
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| backend(format!("bad connection URL: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name("idpkit");
        }
        config.connect_timeout(std::time::Duration::from_secs(5));
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(backend)?;
        let table = format!("{schema}.{prefix}grants");
        let clients = format!("{schema}.{prefix}clients");
        let origins = format!("{schema}.{prefix}client_origins");
        let store = Self {
            pool,
            sql: std::sync::Arc::new(Sql {
                put: format!(
                    "INSERT INTO {table} (kind, id, grant_id, payload, expires_at, consumed_at)
                     VALUES ($1, $2, $3, $4, $5, NULL)
                     ON CONFLICT (kind, id) DO UPDATE SET grant_id = EXCLUDED.grant_id,
                       payload = EXCLUDED.payload, expires_at = EXCLUDED.expires_at, consumed_at = NULL"
                ),
                get: format!(
                    "SELECT grant_id, payload, expires_at, consumed_at FROM {table}
                     WHERE kind = $1 AND id = $2 AND expires_at > $3"
                ),
                consume: format!(
                    "UPDATE {table} SET consumed_at = $3
                     WHERE kind = $1 AND id = $2 AND expires_at > $3 AND consumed_at IS NULL
                     RETURNING grant_id, payload, expires_at, consumed_at"
                ),
                consumed: format!(
                    "SELECT grant_id, payload, expires_at, consumed_at FROM {table}
                     WHERE kind = $1 AND id = $2 AND expires_at > $3 AND consumed_at IS NOT NULL"
                ),
                // One statement: ON CONFLICT takes the row lock, so concurrent increments
                // from any instance serialise and none is lost.
                increment: format!(
                    "INSERT INTO {table} AS t (kind, id, grant_id, payload, expires_at, consumed_at)
                     VALUES ($1, $2, NULL, convert_to('1', 'UTF8'), $3, NULL)
                     ON CONFLICT (kind, id) DO UPDATE SET
                       payload = convert_to((CASE WHEN t.expires_at <= $4 THEN 1
                         ELSE convert_from(t.payload, 'UTF8')::bigint + 1 END)::text, 'UTF8'),
                       expires_at = EXCLUDED.expires_at, grant_id = NULL, consumed_at = NULL
                     RETURNING convert_from(payload, 'UTF8')"
                ),
                delete: format!("DELETE FROM {table} WHERE kind = $1 AND id = $2"),
                revoke: format!("DELETE FROM {table} WHERE grant_id = $1"),
                purge: format!("DELETE FROM {table} WHERE expires_at <= $1"),
                find_client: format!("SELECT registration FROM {clients} WHERE id = $1"),
                upsert_client: format!(
                    "INSERT INTO {clients} (id, registration) VALUES ($1, $2)
                     ON CONFLICT (id) DO UPDATE SET registration = EXCLUDED.registration"
                ),
                remove_client: format!("DELETE FROM {clients} WHERE id = $1"),
                set_unused: format!("UPDATE {clients} SET unused_since = $2 WHERE id = $1"),
                forget_origins: format!("DELETE FROM {origins} WHERE client_id = $1"),
                add_origins: format!(
                    "INSERT INTO {origins} (origin, client_id)
                     SELECT DISTINCT unnest($2::text[]), $1 ON CONFLICT DO NOTHING"
                ),
                origin_allowed: format!(
                    "SELECT EXISTS (SELECT 1 FROM {origins} WHERE origin = $1)"
                ),
                unused: format!(
                    "SELECT id FROM {clients}
                     WHERE unused_since IS NOT NULL AND unused_since <= $1
                     ORDER BY unused_since, id LIMIT $2"
                ),
                keep: format!("UPDATE {clients} SET unused_since = NULL WHERE id = $1"),
            }),
            table: table.clone(),
            clients: clients.clone(),
            origins,
        };
        store.migrate(&schema, &table, &prefix).await?;
        Ok(store)
    }

    async fn migrate(&self, schema: &str, table: &str, prefix: &str) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(backend)?;
        let tx = client.transaction().await.map_err(backend)?;
        // One migrator at a time across instances.
        tx.execute("SELECT pg_advisory_xact_lock(7210201)", &[])
            .await
            .map_err(backend)?;
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .await
            .map_err(backend)?;
        let version_table = format!("{table}_schema_version");
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {version_table} (version INTEGER NOT NULL);
             INSERT INTO {version_table} (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {version_table});"
        ))
        .await
        .map_err(backend)?;
        let version: i32 = tx
            .query_one(&format!("SELECT version FROM {version_table}"), &[])
            .await
            .map_err(backend)?
            .try_get(0)
            .map_err(backend)?;
        let tables = ClientTables {
            clients: &self.clients,
            origins: &self.origins,
            index_prefix: prefix,
        };
        let all = migrations(table, &tables);
        for (i, sql) in all
            .iter()
            .enumerate()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            tx.batch_execute(sql).await.map_err(backend)?;
            self.backfill(&tx, i + 1).await?;
            let v = i32::try_from(i + 1).unwrap_or(i32::MAX);
            tx.execute(&format!("UPDATE {version_table} SET version = $1"), &[&v])
                .await
                .map_err(backend)?;
            tracing::info!(
                version = v,
                table,
                "idpkit-storage-postgres: migration applied"
            );
        }
        tx.commit().await.map_err(backend)
    }

    /// What a migration's SQL cannot do itself, run in its transaction right after it:
    /// version 3 indexes the clients stored before it (their origins and, for anonymous
    /// registrations, their issue time), read through core's stored form.
    async fn backfill(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        version: usize,
    ) -> Result<(), StoreError> {
        if version != 3 {
            return Ok(());
        }
        let rows = tx
            .query(
                &format!("SELECT id, registration FROM {}", self.clients),
                &[],
            )
            .await
            .map_err(backend)?;
        // Set-based, in chunks: one statement per few thousand clients rather than three per
        // client (100,000 clients took 27 s one by one).
        let (mut origin_ids, mut origins) = (Vec::new(), Vec::new());
        let (mut unused_ids, mut unused_at) = (Vec::new(), Vec::new());
        let mut indexed = 0usize;
        for row in rows {
            let id: String = row.try_get(0).map_err(backend)?;
            let json: Vec<u8> = row.try_get(1).map_err(backend)?;
            match client_from_json(&id, &json) {
                Ok(client) => {
                    for o in client.allowed_origins() {
                        origin_ids.push(id.clone());
                        origins.push(o.clone());
                    }
                    if let Some(at) = anonymous_issued_at(&client) {
                        unused_ids.push(id.clone());
                        unused_at.push(at);
                    }
                    indexed += 1;
                }
                // `find` reports it as corrupt; there is nothing to index.
                Err(e) => {
                    tracing::warn!(client_id = %id, error = %e, "idpkit-storage-postgres: a stored client does not decode; not indexed")
                }
            }
        }
        const CHUNK: usize = 5_000;
        let add = format!(
            "INSERT INTO {} (origin, client_id) SELECT o, i FROM unnest($1::text[], $2::text[])
             AS t (o, i) ON CONFLICT DO NOTHING",
            self.origins
        );
        for (o, i) in origins.chunks(CHUNK).zip(origin_ids.chunks(CHUNK)) {
            tx.execute(&add, &[&o, &i]).await.map_err(backend)?;
        }
        let set = format!(
            "UPDATE {} AS c SET unused_since = u.at FROM unnest($1::text[], $2::bigint[])
             AS u (id, at) WHERE c.id = u.id",
            self.clients
        );
        for (i, at) in unused_ids.chunks(CHUNK).zip(unused_at.chunks(CHUNK)) {
            tx.execute(&set, &[&i, &at]).await.map_err(backend)?;
        }
        tracing::info!(
            clients = indexed,
            "idpkit-storage-postgres: client indexes filled"
        );
        Ok(())
    }

    /// The schema version the tables are at.
    pub async fn schema_version(&self) -> Result<i32, StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        client
            .query_one(
                &format!("SELECT version FROM {}_schema_version", self.table),
                &[],
            )
            .await
            .map_err(backend)?
            .try_get(0)
            .map_err(backend)
    }

    /// The fully qualified table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(backend)
    }
}

/// The outcome of a consume that did not win: the row seen consumed before, or none.
fn not_consumed_here(seen: Option<Row>, n: i64) -> Result<Consume, StoreError> {
    match seen {
        Some(row) => {
            let (record, consumed) = record_of(&row)?;
            Ok(Consume::AlreadyConsumed {
                record,
                consumed_at: from_unix_nanos(consumed.unwrap_or(n)),
            })
        }
        None => Ok(Consume::NotFound),
    }
}

#[async_trait]
impl GrantStore for PostgresStore {
    async fn put(&self, kind: RecordKind, id: &str, record: Record) -> Result<(), StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&self.sql.put).await.map_err(backend)?;
        c.execute(
            &stmt,
            &[
                &kind.as_str(),
                &id,
                &record.grant_id,
                &record.payload,
                &unix_nanos(record.expires_at),
            ],
        )
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn increment(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&self.sql.increment)
            .await
            .map_err(backend)?;
        let row = c
            .query_one(
                &stmt,
                &[
                    &RecordKind::Counter.as_str(),
                    &id,
                    &unix_nanos(expires_at),
                    &unix_nanos(now),
                ],
            )
            .await
            .map_err(backend)?;
        let value: String = row.try_get(0).map_err(backend)?;
        idpkit_core::backend::counter_value(value.as_bytes()).map_err(|reason| {
            StoreError::Corrupt {
                kind: RecordKind::Counter.as_str(),
                id: id.to_owned(),
                reason,
            }
        })
    }

    async fn get(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Stored>, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&self.sql.get).await.map_err(backend)?;
        let row = c
            .query_opt(&stmt, &[&kind.as_str(), &id, &unix_nanos(now)])
            .await
            .map_err(backend)?;
        row.map(|r| {
            let (record, consumed) = record_of(&r)?;
            Ok(Stored {
                record,
                consumed_at: consumed.map(from_unix_nanos),
            })
        })
        .transpose()
    }

    async fn consume(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Consume, StoreError> {
        let c = self.client().await?;
        let n = unix_nanos(now);
        let stmt = c.prepare_cached(&self.sql.consume).await.map_err(backend)?;
        if let Some(row) = c
            .query_opt(&stmt, &[&kind.as_str(), &id, &n])
            .await
            .map_err(backend)?
        {
            return Ok(Consume::Consumed(record_of(&row)?.0));
        }
        let stmt = c
            .prepare_cached(&self.sql.consumed)
            .await
            .map_err(backend)?;
        let seen = c
            .query_opt(&stmt, &[&kind.as_str(), &id, &n])
            .await
            .map_err(backend)?;
        not_consumed_here(seen, n)
    }

    /// One transaction: the writes and the consume commit together, or (when the record was
    /// already consumed or is gone) neither does. A concurrent consume of the same record
    /// waits on its row lock, then sees it consumed.
    async fn put_then_consume(
        &self,
        writes: Vec<(RecordKind, String, Record)>,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Consume, StoreError> {
        let mut c = self.client().await?;
        let n = unix_nanos(now);
        let tx = c.transaction().await.map_err(backend)?;
        let put = tx.prepare_cached(&self.sql.put).await.map_err(backend)?;
        for (k, i, r) in &writes {
            tx.execute(
                &put,
                &[
                    &k.as_str(),
                    i,
                    &r.grant_id,
                    &r.payload,
                    &unix_nanos(r.expires_at),
                ],
            )
            .await
            .map_err(backend)?;
        }
        let stmt = tx
            .prepare_cached(&self.sql.consume)
            .await
            .map_err(backend)?;
        if let Some(row) = tx
            .query_opt(&stmt, &[&kind.as_str(), &id, &n])
            .await
            .map_err(backend)?
        {
            let record = record_of(&row)?.0;
            tx.commit().await.map_err(backend)?;
            return Ok(Consume::Consumed(record));
        }
        let stmt = tx
            .prepare_cached(&self.sql.consumed)
            .await
            .map_err(backend)?;
        let seen = tx
            .query_opt(&stmt, &[&kind.as_str(), &id, &n])
            .await
            .map_err(backend)?;
        tx.rollback().await.map_err(backend)?;
        not_consumed_here(seen, n)
    }

    async fn delete(&self, kind: RecordKind, id: &str) -> Result<(), StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&self.sql.delete).await.map_err(backend)?;
        c.execute(&stmt, &[&kind.as_str(), &id])
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn revoke_grant(&self, grant_id: &str) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&self.sql.revoke).await.map_err(backend)?;
        c.execute(&stmt, &[&grant_id]).await.map_err(backend)
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&self.sql.purge).await.map_err(backend)?;
        c.execute(&stmt, &[&unix_nanos(now)]).await.map_err(backend)
    }
}

#[async_trait]
impl ClientStore for PostgresStore {
    async fn find(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&self.sql.find_client)
            .await
            .map_err(backend)?;
        match c.query_opt(&stmt, &[&client_id]).await.map_err(backend)? {
            Some(row) => {
                client_from_json(client_id, &row.try_get::<_, Vec<u8>>(0).map_err(backend)?)
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    /// One lookup in the origin index (its primary key).
    async fn origin_allowed(&self, origin: &str) -> Result<bool, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&self.sql.origin_allowed)
            .await
            .map_err(backend)?;
        c.query_one(&stmt, &[&origin])
            .await
            .map_err(backend)?
            .try_get(0)
            .map_err(backend)
    }
}

#[async_trait]
impl ClientRegistry for PostgresStore {
    /// One transaction: the client and its index entries change together.
    async fn register(&self, client: &Client) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let json = client_to_json(client);
        let tx = c.transaction().await.map_err(backend)?;
        let upsert = tx
            .prepare_cached(&self.sql.upsert_client)
            .await
            .map_err(backend)?;
        tx.execute(&upsert, &[&client.id(), &json])
            .await
            .map_err(backend)?;
        index_client(&tx, &self.sql, client).await?;
        tx.commit().await.map_err(backend)
    }

    /// One statement: the origin index entries go with the client (`ON DELETE CASCADE`).
    async fn remove(&self, client_id: &str) -> Result<bool, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&self.sql.remove_client)
            .await
            .map_err(backend)?;
        let n = c.execute(&stmt, &[&client_id]).await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn unused_registrations(
        &self,
        issued_at_or_before: OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&self.sql.unused).await.map_err(backend)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        c.query(&stmt, &[&issued_at_or_before.unix_timestamp(), &limit])
            .await
            .map_err(backend)?
            .iter()
            .map(|row| row.try_get::<_, String>(0).map_err(backend))
            .collect()
    }

    async fn keep_registration(&self, client_id: &str) -> Result<(), StoreError> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&self.sql.keep).await.map_err(backend)?;
        c.execute(&stmt, &[&client_id]).await.map_err(backend)?;
        Ok(())
    }
}
