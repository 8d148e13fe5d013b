//! Migration parity: every migration applied to a fresh SQLite database and to a fresh
//! PostgreSQL database gives both the same schema, so code tested on one backend meets the same
//! tables on the other. Each schema is read from the database's own catalog (SQLite:
//! `sqlite_master` and the `pragma_*` functions; PostgreSQL: `information_schema` and
//! `pg_catalog`) and flattened into facts, one line each:
//!
//! - `table T`, `columns of T: a, b, …` (their order), and per column its type, nullability
//!   and default;
//! - `primary key T (…)`, `unique T (…)` (a UNIQUE constraint, whatever its index is called),
//!   `foreign key T (…) references R (…) on update … on delete …`, `check T: expr`;
//! - `index NAME on T (…)`, with `unique` and its `where` predicate (named indexes, i.e. the
//!   ones a migration creates with CREATE INDEX; constraint indexes are named by each database
//!   in its own way and are covered by the constraint facts above);
//! - `trigger NAME on T`, `view NAME`;
//! - `migration VERSION DESCRIPTION` for each migration applied (so each SQLite migration has
//!   its PostgreSQL twin, even one that only moves data).
//!
//! The test fails listing every fact only one of the two databases has.
//!
//! What counts as "the same" (the mapping between the two dialects):
//! - Types: a column declared with a SQLite type of [`TYPE_MAPPING`] must have the PostgreSQL
//!   type it maps to; a SQLite type outside the mapping is an error (extend the mapping, with
//!   a reason, when a migration needs a new one).
//! - Nullability: a PRIMARY KEY column counts as NOT NULL on SQLite too. PostgreSQL makes it
//!   NOT NULL; SQLite, for backwards compatibility, lets a primary key column other than an
//!   `INTEGER PRIMARY KEY` hold NULL unless declared NOT NULL (sqlite.org/lang_createtable.html,
//!   "PRIMARY KEY"). Steward never writes a NULL key (every key is bound from a non-optional
//!   value), and giving the SQLite columns NOT NULL would mean rebuilding every table, so the
//!   test takes the declared intent rather than SQLite's quirk.
//! - Expressions (defaults, CHECK constraints, partial-index predicates) are compared after
//!   [`normalize_expr`]: PostgreSQL prints them back its own way (`false` for `FALSE`,
//!   `'{}'::text` for `'{}'`, `((a IS NULL) AND (b IS NULL))` for `a IS NULL AND b IS NULL`),
//!   so case outside string literals, `::type` casts, parentheses, double quotes and
//!   whitespace are ignored. Operator precedence is therefore not compared; PostgreSQL also
//!   rewrites some forms (`x IN ('a', 'b')` becomes `x = ANY (ARRAY[…])`), which this test
//!   would report: write such a check in a form both print alike, or extend the normalization.
//! - Not compared: constraint and index names of PRIMARY KEY / UNIQUE constraints, collations,
//!   deferrability, and the rows a migration inserts (`audit_head`'s genesis row).
use std::collections::{BTreeMap, BTreeSet};

use sqlx::Connection;
use steward_store::Store;

/// SQLite declared type (upper case, as the migrations write it) → PostgreSQL type
/// (`information_schema.columns.data_type`).
const TYPE_MAPPING: &[(&str, &str)] = &[
    // Times (Unix microseconds), counts, sequence numbers, versions.
    ("BIGINT", "bigint"),
    // `audit_head.singleton` (on SQLite also the rowid alias of its one row).
    ("INTEGER", "integer"),
    ("TEXT", "text"),
    // Hashes, sealed secrets, signatures.
    ("BLOB", "bytea"),
    // SQLite stores 0/1 under NUMERIC affinity; sqlx reads both as `bool`.
    ("BOOLEAN", "boolean"),
];

/// Tables both databases have that are not Steward's schema.
const BOOKKEEPING_TABLES: &[&str] = &["_sqlx_migrations"];

/// A schema as a set of facts (see the module documentation).
type Facts = BTreeSet<String>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrations_use_only_mapped_types() {
    let dir = tempfile::tempdir().unwrap();
    let facts = sqlite_facts(&dir).await;
    let unmapped: Vec<&String> = facts.iter().filter(|f| f.contains("unmapped SQLite type")).collect();
    assert!(unmapped.is_empty(), "columns with a type outside TYPE_MAPPING:\n{unmapped:#?}");
    // The reading itself works: the schema is there, with its constraints and indexes.
    for expected in [
        "table users",
        "primary key users (id)",
        "unique users (email)",
        "foreign key sessions (user_id) references users (id) on update no action on delete cascade",
        "check audit_head: singleton = 1",
        "index alert_deliveries_due on alert_deliveries (next_attempt_at) where delivered_at is null and gave_up_at is null",
    ] {
        assert!(facts.contains(expected), "{expected:?} not found in\n{facts:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_get_the_same_schema() {
    let Some(admin) = steward_store::testing::postgres_admin_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_facts(&dir).await;

    let url = steward_store::testing::create_postgres_database(&admin, "steward_parity").await.unwrap();
    let postgres = postgres_facts(&url).await;
    steward_store::testing::drop_postgres_database(&admin, &url).await;
    let postgres = postgres.unwrap_or_else(|e| panic!("reading the PostgreSQL schema: {e}"));

    let only_sqlite: Vec<&String> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<&String> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the migrations give the two databases different schemas\n\
         only on SQLite:\n{only_sqlite:#?}\nonly on PostgreSQL:\n{only_postgres:#?}"
    );
    assert!(sqlite.len() > 100, "suspiciously few facts: {sqlite:#?}");
}

// ---------------------------------------------------------------------------------------------
// SQLite

async fn sqlite_facts(dir: &tempfile::TempDir) -> Facts {
    let url = format!("sqlite://{}/parity.db", dir.path().display());
    Store::open(&url).await.expect("migrate SQLite");
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    read_sqlite(&mut c).await.unwrap_or_else(|e| panic!("reading the SQLite schema: {e}"))
}

async fn read_sqlite(c: &mut sqlx::SqliteConnection) -> Result<Facts, sqlx::Error> {
    let mut facts =
        migration_facts(sqlx::query_as("SELECT version, description FROM _sqlx_migrations").fetch_all(&mut *c).await?);
    let objects: Vec<(String, String, String, Option<String>)> =
        sqlx::query_as("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
            .fetch_all(&mut *c)
            .await?;
    let tables: Vec<(String, String)> = objects
        .iter()
        .filter(|(kind, name, ..)| kind == "table" && !BOOKKEEPING_TABLES.contains(&name.as_str()))
        .map(|(_, name, _, sql)| (name.clone(), sql.clone().unwrap_or_default()))
        .collect();
    for (kind, name, table, sql) in &objects {
        match kind.as_str() {
            "trigger" => {
                facts.insert(format!("trigger {name} on {table}"));
            }
            "view" => {
                facts.insert(format!("view {name}"));
            }
            "index" => {
                if let Some(sql) = sql {
                    read_sqlite_index(c, &mut facts, name, table, sql).await?;
                }
            }
            _ => {}
        }
    }

    for (table, sql) in &tables {
        facts.insert(format!("table {table}"));
        // cid, name, type, notnull, dflt_value, pk
        let columns: Vec<(i64, String, String, i64, Option<String>, i64)> = sqlx::query_as(
            "SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
        )
        .bind(table)
        .fetch_all(&mut *c)
        .await?;
        facts.insert(format!(
            "columns of {table}: {}",
            columns.iter().map(|col| col.1.as_str()).collect::<Vec<_>>().join(", ")
        ));
        for (_, name, declared, not_null, default, pk) in &columns {
            let ty = TYPE_MAPPING
                .iter()
                .find(|(sqlite, _)| sqlite.eq_ignore_ascii_case(declared))
                .map_or_else(|| format!("unmapped SQLite type {declared:?}"), |(_, pg)| (*pg).to_string());
            facts.insert(column_fact(table, name, &ty, *not_null != 0 || *pk > 0, default.as_deref()));
        }
        let mut key: Vec<(i64, String)> =
            columns.iter().filter(|col| col.5 > 0).map(|col| (col.5, col.1.clone())).collect();
        key.sort();
        if !key.is_empty() {
            facts.insert(format!("primary key {table} ({})", join(key.iter().map(|(_, name)| name))));
        }

        // Indexes SQLite made for UNIQUE constraints (origin `u`); `pk` ones are the primary
        // key above, `c` ones are named indexes (read with the other objects).
        let unique: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_index_list(?1) WHERE origin = 'u'")
            .bind(table)
            .fetch_all(&mut *c)
            .await?;
        for (index,) in unique {
            let columns: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .bind(&index)
                .fetch_all(&mut *c)
                .await?;
            facts.insert(format!("unique {table} ({})", join(columns.iter().map(|(name,)| name))));
        }

        let fks: Vec<SqliteForeignKey> = sqlx::query_as(
            "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete \
             FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
        )
        .bind(table)
        .fetch_all(&mut *c)
        .await?;
        let mut by_id: BTreeMap<i64, Vec<&SqliteForeignKey>> = BTreeMap::new();
        for fk in &fks {
            by_id.entry(fk.id).or_default().push(fk);
        }
        for parts in by_id.values() {
            let first = parts[0];
            let from = join(parts.iter().map(|p| &p.from));
            // `REFERENCES t` without columns means t's primary key.
            let to = if parts.iter().all(|p| p.to.is_some()) {
                join(parts.iter().filter_map(|p| p.to.as_ref()))
            } else {
                let key: Vec<(String,)> =
                    sqlx::query_as("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")
                        .bind(&first.table)
                        .fetch_all(&mut *c)
                        .await?;
                join(key.iter().map(|(name,)| name))
            };
            facts.insert(foreign_key_fact(table, &from, &first.table, &to, &first.on_update, &first.on_delete));
        }

        for check in sqlite_checks(sql) {
            facts.insert(format!("check {table}: {}", normalize_expr(&check)));
        }
    }
    Ok(facts)
}

async fn read_sqlite_index(
    c: &mut sqlx::SqliteConnection,
    facts: &mut Facts,
    name: &str,
    table: &str,
    sql: &str,
) -> Result<(), sqlx::Error> {
    // key columns only (key = 0 rows are the rowid and such); `name` is NULL for an expression.
    let columns: Vec<(Option<String>, i64)> =
        sqlx::query_as("SELECT name, \"desc\" FROM pragma_index_xinfo(?1) WHERE key = 1 ORDER BY seqno")
            .bind(name)
            .fetch_all(&mut *c)
            .await?;
    let columns: Vec<String> = columns
        .into_iter()
        .map(|(column, desc)| index_column(column.as_deref().unwrap_or("<expression>"), desc != 0))
        .collect();
    let unique = first_word_after_create(sql).eq_ignore_ascii_case("unique");
    facts.insert(index_fact(name, table, &columns, unique, top_level_where(sql).as_deref()));
    Ok(())
}

/// `UNIQUE` in `CREATE UNIQUE INDEX …`, `INDEX` otherwise.
fn first_word_after_create(sql: &str) -> String {
    strip_comments(sql).split_whitespace().nth(1).unwrap_or_default().to_string()
}

/// The predicate of a partial index: what follows a `WHERE` outside parentheses and quotes.
fn top_level_where(sql: &str) -> Option<String> {
    let sql = strip_comments(sql);
    let lower = sql.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let (mut depth, mut quoted) = (0_i32, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'\'' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth -= 1,
            b'w' if !quoted
                && depth == 0
                && bytes[i..].starts_with(b"where")
                && (i == 0 || !is_word(bytes[i - 1]))
                && !bytes.get(i + 5).copied().is_some_and(is_word) =>
            {
                return Some(sql[i + 5..].trim().trim_end_matches(';').trim().to_string());
            }
            _ => {}
        }
    }
    None
}

/// The expressions of the CHECK constraints in a CREATE TABLE statement (SQLite keeps the
/// statement as written, with columns added later appended, and has no catalog of checks).
fn sqlite_checks(sql: &str) -> Vec<String> {
    let sql = strip_comments(sql);
    let lower = sql.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut checks = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\'' {
            quoted = !quoted;
        } else if !quoted
            && bytes[i..].starts_with(b"check")
            && (i == 0 || !is_word(bytes[i - 1]))
            && !bytes.get(i + 5).copied().is_some_and(is_word)
        {
            let open = i + 5 + lower[i + 5..].len() - lower[i + 5..].trim_start().len();
            if bytes.get(open) == Some(&b'(') {
                let mut depth = 0;
                let mut inner_quoted = false;
                for (j, &c) in bytes.iter().enumerate().skip(open) {
                    match c {
                        b'\'' => inner_quoted = !inner_quoted,
                        b'(' if !inner_quoted => depth += 1,
                        b')' if !inner_quoted => {
                            depth -= 1;
                            if depth == 0 {
                                checks.push(sql[open + 1..j].to_string());
                                i = j;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        i += 1;
    }
    checks
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The statement without `-- …` and `/* … */` comments (outside string literals).
fn strip_comments(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(ch) = chars.next() {
        if ch == '\'' {
            quoted = !quoted;
            out.push(ch);
        } else if !quoted && ch == '-' && chars.peek() == Some(&'-') {
            for rest in chars.by_ref() {
                if rest == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else if !quoted && ch == '/' && chars.peek() == Some(&'*') {
            chars.next();
            let mut last = ' ';
            for rest in chars.by_ref() {
                if last == '*' && rest == '/' {
                    break;
                }
                last = rest;
            }
            out.push(' ');
        } else {
            out.push(ch);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async fn postgres_facts(url: &str) -> Result<Facts, String> {
    let store = Store::open(url).await.map_err(|e| format!("migrate: {e}"))?;
    drop(store);
    let mut c = sqlx::PgConnection::connect(url).await.map_err(|e| e.to_string())?;
    let facts = read_postgres(&mut c).await.map_err(|e| e.to_string());
    let _ = c.close().await;
    facts
}

async fn read_postgres(c: &mut sqlx::PgConnection) -> Result<Facts, sqlx::Error> {
    let mut facts =
        migration_facts(sqlx::query_as("SELECT version, description FROM _sqlx_migrations").fetch_all(&mut *c).await?);
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut *c)
    .await?;
    let tables: Vec<String> =
        tables.into_iter().map(|(t,)| t).filter(|t| !BOOKKEEPING_TABLES.contains(&t.as_str())).collect();
    for table in &tables {
        facts.insert(format!("table {table}"));
    }

    let columns: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, column_default::text \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut *c)
    .await?;
    let mut order: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (table, name, ty, nullable, default) in &columns {
        if !tables.contains(table) {
            continue;
        }
        order.entry(table).or_default().push(name);
        facts.insert(column_fact(table, name, ty, nullable == "NO", default.as_deref()));
    }
    for (table, names) in order {
        facts.insert(format!("columns of {table}: {}", names.join(", ")));
    }

    // Primary key, unique and check constraints, with their columns in key order.
    let constraints: Vec<(String, String, Vec<String>, String)> = sqlx::query_as(
        "SELECT t.relname::text, c.contype::text, \
                COALESCE((SELECT array_agg(a.attname::text ORDER BY k.ord) \
                          FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum), '{}'), \
                pg_get_constraintdef(c.oid) \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND c.contype IN ('p', 'u', 'c')",
    )
    .fetch_all(&mut *c)
    .await?;
    for (table, kind, columns, definition) in &constraints {
        if !tables.contains(table) {
            continue;
        }
        let fact = match kind.as_str() {
            "p" => format!("primary key {table} ({})", columns.join(", ")),
            "u" => format!("unique {table} ({})", columns.join(", ")),
            _ => {
                let expr = definition.trim_start().strip_prefix("CHECK").unwrap_or(definition);
                format!("check {table}: {}", normalize_expr(expr))
            }
        };
        facts.insert(fact);
    }

    let fks: Vec<PgForeignKey> = sqlx::query_as(
        "SELECT t.relname::text AS \"table\", \
                (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS \"from\", \
                r.relname::text AS referenced, \
                (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord) \
                 JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS \"to\", \
                c.confupdtype::text AS on_update, c.confdeltype::text AS on_delete \
         FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND c.contype = 'f'",
    )
    .fetch_all(&mut *c)
    .await?;
    for fk in &fks {
        facts.insert(foreign_key_fact(
            &fk.table,
            &fk.from.join(", "),
            &fk.referenced,
            &fk.to.join(", "),
            pg_action(&fk.on_update),
            pg_action(&fk.on_delete),
        ));
    }

    // Named indexes: those no PRIMARY KEY or UNIQUE constraint owns.
    let indexes: Vec<PgIndex> = sqlx::query_as(
        "SELECT i.relname::text AS name, t.relname::text AS \"table\", ix.indisunique AS \"unique\", \
                pg_get_expr(ix.indpred, ix.indrelid) AS predicate, \
                ARRAY(SELECT pg_get_indexdef(ix.indexrelid, k, true) FROM generate_series(1, ix.indnkeyatts) AS k ORDER BY k) AS columns, \
                ARRAY(SELECT ix.indkey[k - 1] = 0 FROM generate_series(1, ix.indnkeyatts) AS k ORDER BY k) AS expression, \
                ARRAY(SELECT (ix.indoption[k - 1] & 1) = 1 FROM generate_series(1, ix.indnkeyatts) AS k ORDER BY k) AS descending \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() \
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype IN ('p', 'u'))",
    )
    .fetch_all(&mut *c)
    .await?;
    for index in &indexes {
        if !tables.contains(&index.table) {
            continue;
        }
        let columns: Vec<String> = index
            .columns
            .iter()
            .zip(&index.expression)
            .zip(&index.descending)
            .map(|((column, expression), desc)| index_column(if *expression { "<expression>" } else { column }, *desc))
            .collect();
        facts.insert(index_fact(&index.name, &index.table, &columns, index.unique, index.predicate.as_deref()));
    }

    let triggers: Vec<(String, String)> = sqlx::query_as(
        "SELECT tg.tgname::text, t.relname::text FROM pg_trigger tg JOIN pg_class t ON t.oid = tg.tgrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema() AND NOT tg.tgisinternal",
    )
    .fetch_all(&mut *c)
    .await?;
    for (name, table) in triggers {
        facts.insert(format!("trigger {name} on {table}"));
    }
    let views: Vec<(String,)> =
        sqlx::query_as("SELECT table_name::text FROM information_schema.views WHERE table_schema = current_schema()")
            .fetch_all(&mut *c)
            .await?;
    for (name,) in views {
        facts.insert(format!("view {name}"));
    }
    Ok(facts)
}

/// One column of a foreign key of SQLite's (`pragma_foreign_key_list`): a key over several
/// columns has a row per column, sharing `id`.
#[derive(sqlx::FromRow)]
struct SqliteForeignKey {
    id: i64,
    table: String,
    from: String,
    /// NULL when the key names only the table: it then references that table's primary key.
    to: Option<String>,
    on_update: String,
    on_delete: String,
}

#[derive(sqlx::FromRow)]
struct PgForeignKey {
    table: String,
    from: Vec<String>,
    referenced: String,
    to: Vec<String>,
    on_update: String,
    on_delete: String,
}

/// A named index of PostgreSQL's, its key columns in order.
#[derive(sqlx::FromRow)]
struct PgIndex {
    name: String,
    table: String,
    unique: bool,
    predicate: Option<String>,
    /// Column names, or the expression's text for an expression column.
    columns: Vec<String>,
    expression: Vec<bool>,
    descending: Vec<bool>,
}

/// `pg_constraint.confupdtype` / `confdeltype` in SQLite's words.
fn pg_action(code: &str) -> &'static str {
    match code {
        "a" => "NO ACTION",
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "unknown action",
    }
}

// ---------------------------------------------------------------------------------------------
// Facts, the same words for both databases

fn migration_facts(applied: Vec<(i64, String)>) -> Facts {
    applied.into_iter().map(|(version, description)| format!("migration {version} {description}")).collect()
}

fn column_fact(table: &str, column: &str, ty: &str, not_null: bool, default: Option<&str>) -> String {
    let default = default.map_or_else(|| "none".to_string(), normalize_expr);
    let null = if not_null { "NOT NULL" } else { "NULL" };
    format!("column {table}.{column}: {ty} {null} default {default}")
}

fn foreign_key_fact(table: &str, from: &str, referenced: &str, to: &str, on_update: &str, on_delete: &str) -> String {
    format!(
        "foreign key {table} ({from}) references {referenced} ({to}) on update {} on delete {}",
        on_update.to_ascii_lowercase(),
        on_delete.to_ascii_lowercase()
    )
}

fn index_column(column: &str, desc: bool) -> String {
    if desc { format!("{column} desc") } else { column.to_string() }
}

fn index_fact(name: &str, table: &str, columns: &[String], unique: bool, predicate: Option<&str>) -> String {
    let mut fact = format!("{}index {name} on {table} ({})", if unique { "unique " } else { "" }, columns.join(", "));
    if let Some(predicate) = predicate {
        fact.push_str(" where ");
        fact.push_str(&normalize_expr(predicate));
    }
    fact
}

fn join<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names.map(String::as_str).collect::<Vec<_>>().join(", ")
}

/// An expression as both databases can agree on it: outside string literals, lower case, without
/// `::type` casts, parentheses or double quotes, and with single spaces.
fn normalize_expr(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut chars = expr.chars().peekable();
    let mut quoted = false;
    while let Some(ch) = chars.next() {
        if quoted {
            out.push(ch);
            if ch == '\'' {
                quoted = false;
            }
            continue;
        }
        match ch {
            '\'' => {
                quoted = true;
                out.push(ch);
            }
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                while chars.peek().is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    chars.next();
                }
                if chars.peek() == Some(&'[') {
                    chars.next();
                    if chars.peek() == Some(&']') {
                        chars.next();
                    }
                }
            }
            '(' | ')' | '"' => {}
            c if c.is_whitespace() => {
                if !out.ends_with(' ') && !out.is_empty() {
                    out.push(' ');
                }
            }
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out.trim().to_string()
}

#[test]
fn normalization_agrees_on_how_each_database_prints_the_same_expression() {
    assert_eq!(normalize_expr("FALSE"), normalize_expr("false"));
    assert_eq!(normalize_expr("'{}'"), normalize_expr("'{}'::text"));
    assert_eq!(
        normalize_expr("delivered_at IS NULL AND gave_up_at IS NULL"),
        normalize_expr("((delivered_at IS NULL) AND (gave_up_at IS NULL))")
    );
    assert_eq!(normalize_expr(" (singleton = 1)"), normalize_expr("((singleton = 1))"));
    // String literals keep their case and spacing.
    assert_ne!(normalize_expr("'A  b'"), normalize_expr("'a b'"));
}

#[test]
fn sqlite_statements_are_read_for_checks_and_predicates() {
    let table = "CREATE TABLE t (\n  -- a check in a comment: check (nothing)\n  checked_at BIGINT,\n  \
                 n INTEGER CHECK (n IN (1, 2)),\n  s TEXT DEFAULT 'check (x)',\n  CONSTRAINT c CHECK(s <> '')\n)";
    assert_eq!(sqlite_checks(table), vec!["n IN (1, 2)".to_string(), "s <> ''".to_string()]);
    let index = "CREATE INDEX i ON t(a, (lower(b))) WHERE a IS NULL -- partial\n";
    assert_eq!(top_level_where(index).as_deref(), Some("a IS NULL"));
    assert_eq!(top_level_where("CREATE INDEX i ON t(nowhere)"), None);
    assert_eq!(first_word_after_create("CREATE UNIQUE INDEX i ON t(a)"), "UNIQUE");
}
