//! The migrated schema against the rules a distributed Postgres imposes when
//! every tenant's rows are sharded by `organisation_id` (Citus; see
//! docs/scaling.md). Citus cannot be installed here, so the rules are
//! checked on the schema the migrations make, on the backend the suite runs
//! on: `sqlite_master` and `PRAGMA table_info / index_list / index_info /
//! foreign_key_list` on SQLite, `pg_catalog` and `information_schema` on
//! Postgres (`OUTPOST_TEST_DATABASE_URL`).
//!
//! The rules:
//! - every table is classified once, in [`CLASSIFICATION`]: per
//!   organisation (sharded), reference (a copy on every node) or server-local
//!   (the coordinator only). A new table fails until someone decides;
//! - a per-organisation table has a NOT NULL `organisation_id` of the same
//!   type as `sync_counters.organisation_id` (co-located tables must share
//!   the distribution column's type);
//! - its primary key and unique indexes include `organisation_id` (Citus
//!   refuses a unique constraint without the distribution column: it can only
//!   check uniqueness inside one shard);
//! - its foreign keys to other per-organisation tables pair
//!   `organisation_id` with `organisation_id` (Citus refuses the others: the
//!   two rows must be on the same shard), and none points at a server-local
//!   table; a reference table points at reference tables only;
//! - `sync_counters` is keyed by `organisation_id` alone: one counter row
//!   per organisation, on that organisation's shard, so a push stays a
//!   single-shard transaction.
//!
//! Today's schema breaks some of these on purpose (ids unique across
//! organisations, logins by email alone): each break is in [`EXCEPTIONS`]
//! with its reason and the step of docs/scaling.md that removes it. An
//! exception that no longer matches anything fails too, so the list only
//! shrinks.

use std::collections::{BTreeMap, BTreeSet};

use outpost_tests::{
    TestApp,
    db::{exec, query},
    spawn_app,
};
use sea_orm::{DbBackend, QueryResult};

/// Where a table goes when the database is distributed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    /// Sharded by `organisation_id` and co-located with `sync_counters`: one
    /// organisation's rows of every such table live on the same node.
    PerOrganisation,
    /// A copy on every node (`create_reference_table`), shared by every
    /// tenant; the text says why it is not per organisation.
    Reference(&'static str),
    /// Stays on the coordinator, outside the application's queries; the text
    /// says what it is.
    ServerLocal(&'static str),
}

use Placement::{PerOrganisation, Reference, ServerLocal};

/// The distribution column.
const ORG: &str = "organisation_id";

/// The per-organisation table the others are co-located with, keyed by the
/// distribution column alone.
const COUNTER: &str = "sync_counters";

/// Every table of the migrated schema, classified once. A table the
/// migrations make that is not here fails the test: decide where it lives
/// before it ships (docs/scaling.md, "Which table goes where").
const CLASSIFICATION: &[(&str, Placement)] = &[
    (
        "organisations",
        Reference(
            "the tenants themselves: every table's organisation_id points at it, the slug is \
             unique across tenants, and it is small and rarely written",
        ),
    ),
    ("sites", PerOrganisation),
    ("users", PerOrganisation),
    ("user_sites", PerOrganisation),
    ("devices", PerOrganisation),
    ("sessions", PerOrganisation),
    ("api_keys", PerOrganisation),
    ("audit_events", PerOrganisation),
    ("sync_counters", PerOrganisation),
    ("sync_changes", PerOrganisation),
    ("sync_mutations", PerOrganisation),
    ("sync_conflicts", PerOrganisation),
    ("persons", PerOrganisation),
    ("record_revisions", PerOrganisation),
    ("contacts", PerOrganisation),
    ("kit_lines", PerOrganisation),
    ("incidents", PerOrganisation),
    ("referrals", PerOrganisation),
    ("referral_steps", PerOrganisation),
    ("referral_deadlines", PerOrganisation),
    ("consents", PerOrganisation),
    ("consent_revocations", PerOrganisation),
    (
        "partner_link_codes",
        Reference(
            "a code is looked up before anyone knows whose it is (the linking organisation \
             types what the partner gave it), so its hash is unique across tenants; few, \
             short-lived rows",
        ),
    ),
    ("referral_shares", PerOrganisation),
    ("webhook_endpoints", PerOrganisation),
    ("webhook_deliveries", PerOrganisation),
    ("webhook_attempts", PerOrganisation),
    // Reference data in the product's sense (catalogues a device validates
    // against), but each organisation edits its own: sharded, not shared.
    ("kit_items", PerOrganisation),
    ("substances", PerOrganisation),
    ("substance_names", PerOrganisation),
    ("partner_services", PerOrganisation),
    ("stock_locations", PerOrganisation),
    ("stock_entries", PerOrganisation),
    ("stock_movements", PerOrganisation),
    ("stock_levels", PerOrganisation),
    ("stock_thresholds", PerOrganisation),
    (
        "seaql_migrations",
        ServerLocal(
            "sea-orm-migration's record of applied migrations; migrations run against the \
             coordinator, which forwards their DDL to the shards",
        ),
    ),
];

/// A rule a per-organisation table breaks.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// No `organisation_id` column; the reason says how a row reaches its
    /// organisation. Its keys and foreign keys are checked once it has one.
    NoOrganisationColumn,
    /// The primary key or a unique index on exactly these columns, in this
    /// order, leaves `organisation_id` out.
    Key(&'static [&'static str]),
    /// The foreign key from exactly these columns to that per-organisation
    /// table does not pair `organisation_id` with `organisation_id`.
    ForeignKey(&'static [&'static str], &'static str),
}

/// A rule a table may break for now, and why.
struct Exception {
    table: &'static str,
    rule: Rule,
    reason: &'static str,
}

const fn except(table: &'static str, rule: Rule, reason: &'static str) -> Exception {
    Exception { table, rule, reason }
}

use Rule::{ForeignKey, Key, NoOrganisationColumn};

/// Why a table is keyed by `id` alone. Step 1 of docs/scaling.md re-keys
/// every one of them `(organisation_id, id)`.
const SERVER_ID: &str = "keyed by `id` alone, a UUID v7 the server makes: unique across \
                         organisations by construction, so nothing relies on the key beyond \
                         it; step 1 re-keys it (organisation_id, id)";
const RECORD_ID: &str = "keyed by `id` alone, a UUID v7 the device makes: push and REST read \
                         this key across organisations to refuse a create whose id another \
                         organisation holds (`id_taken`); step 1 re-keys it (organisation_id, \
                         id) and scopes that check to the organisation";
const CATALOGUE_ID: &str = "keyed by `id` alone, a UUID v7 the server makes (codes are unique \
                            per organisation already); step 1 re-keys it (organisation_id, id)";

/// Where today's schema breaks the rules, and the step of docs/scaling.md
/// that ends each break. Remove an entry when its table obeys: the test
/// fails on an entry that matches nothing.
const EXCEPTIONS: &[Exception] = &[
    // Foundation.
    except("sites", Key(&["id"]), SERVER_ID),
    except("users", Key(&["id"]), SERVER_ID),
    except(
        "users",
        Key(&["email"]),
        "sign-in finds the account by email alone, so an address is unique across \
         organisations; step 2 moves that rule to the reference table `login_emails` and keys \
         this (organisation_id, email)",
    ),
    except(
        "user_sites",
        NoOrganisationColumn,
        "reaches its organisation through `user_id` (users.organisation_id; `site_id` is in the \
         same one); step 1 adds organisation_id, filled from users, and keys it \
         (organisation_id, user_id, site_id)",
    ),
    except(
        "devices",
        Key(&["id"]),
        "keyed by `id` alone, chosen by the phone at sign-in and checked across organisations \
         (`device_registered_to_another_user`); step 1 re-keys it (organisation_id, id) and \
         checks within the organisation",
    ),
    except(
        "devices",
        ForeignKey(&["user_id"], "users"),
        "points at users by `user_id` alone; step 1 makes it (organisation_id, user_id)",
    ),
    except("sessions", Key(&["id"]), SERVER_ID),
    except(
        "sessions",
        Key(&["token_hash"]),
        "a bearer token is looked up by its hash alone when Redis misses, before the \
         organisation is known; step 3 puts the organisation in new tokens and keys this \
         (organisation_id, token_hash)",
    ),
    except(
        "sessions",
        ForeignKey(&["user_id"], "users"),
        "points at users by `user_id` alone; step 1 makes it (organisation_id, user_id)",
    ),
    except(
        "sessions",
        ForeignKey(&["device_id"], "devices"),
        "points at devices by `device_id` alone; step 1 makes it (organisation_id, device_id)",
    ),
    except("api_keys", Key(&["id"]), SERVER_ID),
    except(
        "api_keys",
        Key(&["key_hash"]),
        "every integrator request looks its key up by the hash alone, before the organisation \
         is known; step 3 puts the organisation in new keys and keys this (organisation_id, \
         key_hash)",
    ),
    except("audit_events", Key(&["id"]), SERVER_ID),
    // Sync engine (sync_counters, sync_changes, sync_mutations obey).
    except("sync_conflicts", Key(&["id"]), SERVER_ID),
    // Field records.
    except("persons", Key(&["id"]), RECORD_ID),
    except(
        "record_revisions",
        Key(&["entity", "record_id", "version"]),
        "keyed (entity, record_id, version), unique because record ids are unique across \
         organisations; step 1 keys it (organisation_id, entity, record_id, version)",
    ),
    except("contacts", Key(&["id"]), RECORD_ID),
    except(
        "contacts",
        ForeignKey(&["person_id"], "persons"),
        "points at persons by `person_id` alone; step 1 makes it (organisation_id, person_id)",
    ),
    except(
        "kit_lines",
        Key(&["id"]),
        "keyed by its own `id`, made by the server for each line of a contact; step 1 re-keys \
         it (organisation_id, id)",
    ),
    except(
        "kit_lines",
        ForeignKey(&["contact_id"], "contacts"),
        "points at contacts by `contact_id` alone; step 1 makes it (organisation_id, \
         contact_id)",
    ),
    except("incidents", Key(&["id"]), RECORD_ID),
    except("referrals", Key(&["id"]), RECORD_ID),
    except(
        "referrals",
        ForeignKey(&["person_id"], "persons"),
        "points at persons by `person_id` alone; step 1 makes it (organisation_id, person_id)",
    ),
    except("referral_steps", Key(&["id"]), RECORD_ID),
    except("consents", Key(&["id"]), RECORD_ID),
    except("consent_revocations", Key(&["id"]), RECORD_ID),
    except("webhook_endpoints", Key(&["id"]), RECORD_ID),
    except("webhook_deliveries", Key(&["id"]), RECORD_ID),
    except("webhook_attempts", Key(&["id"]), RECORD_ID),
    except(
        "referral_steps",
        ForeignKey(&["referral_id"], "referrals"),
        "points at referrals by `referral_id` alone; step 1 makes it (organisation_id, \
         referral_id)",
    ),
    // Catalogues (substance_names obeys; its foreign key does not).
    except("kit_items", Key(&["id"]), CATALOGUE_ID),
    except("substances", Key(&["id"]), CATALOGUE_ID),
    except(
        "substance_names",
        ForeignKey(&["substance_id"], "substances"),
        "points at substances by `substance_id` alone; step 1 makes it (organisation_id, \
         substance_id)",
    ),
    except("partner_services", Key(&["id"]), CATALOGUE_ID),
    // Stock (stock_levels obeys: keyed (organisation_id, location_id,
    // item_code)).
    except("stock_locations", Key(&["id"]), SERVER_ID),
    except("stock_entries", Key(&["id"]), RECORD_ID),
    except("stock_movements", Key(&["id"]), SERVER_ID),
    except("stock_thresholds", Key(&["id"]), SERVER_ID),
];

/// One column of a table.
#[derive(Debug, Clone)]
struct Column {
    /// The type as the backend spells it (`uuid`, `uuid_text`, ...):
    /// compared only with others of the same backend.
    declared: String,
    nullable: bool,
}

/// A unique index (not the primary key).
#[derive(Debug, Clone)]
struct UniqueIndex {
    name: String,
    /// Key columns in order; an expression shows as `(expression)`.
    columns: Vec<String>,
}

/// A foreign key.
#[derive(Debug, Clone)]
struct Link {
    columns: Vec<String>,
    target: String,
    target_columns: Vec<String>,
}

/// One table of the migrated schema, as the rules need it.
#[derive(Debug, Clone, Default)]
struct Table {
    columns: BTreeMap<String, Column>,
    /// Primary key columns in order; empty when there is none.
    primary_key: Vec<String>,
    unique: Vec<UniqueIndex>,
    foreign_keys: Vec<Link>,
}

/// Every table, by name.
type Schema = BTreeMap<String, Table>;

/// A break of a rule an exception may cover.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Finding {
    NoOrganisationColumn,
    Key { what: String, columns: Vec<String> },
    ForeignKey { columns: Vec<String>, target: String },
}

impl Finding {
    fn describe(&self) -> String {
        match self {
            Finding::NoOrganisationColumn => format!("has no {ORG} column"),
            Finding::Key { what, columns } => {
                format!("{what} ({}) does not include {ORG}", columns.join(", "))
            }
            Finding::ForeignKey { columns, target } => format!(
                "foreign key ({}) -> {target} does not pair {ORG} with {ORG}",
                columns.join(", ")
            ),
        }
    }

    fn is_covered_by(&self, rule: &Rule) -> bool {
        match (self, rule) {
            (Finding::NoOrganisationColumn, Rule::NoOrganisationColumn) => true,
            (Finding::Key { columns, .. }, Rule::Key(expected)) => columns == expected,
            (Finding::ForeignKey { columns, target }, Rule::ForeignKey(expected, to)) => {
                columns == expected && target == to
            }
            _ => false,
        }
    }
}

fn describe_rule(rule: &Rule) -> String {
    match rule {
        Rule::NoOrganisationColumn => format!("no {ORG} column"),
        Rule::Key(columns) => format!("key ({}) without {ORG}", columns.join(", ")),
        Rule::ForeignKey(columns, target) => {
            format!("foreign key ({}) -> {target} without {ORG}", columns.join(", "))
        }
    }
}

/// What the rules say about a schema.
#[derive(Debug, Default)]
struct Outcome {
    /// What breaks a rule with no exception, or an exception or a
    /// classification that no longer fits: each fails the test.
    failures: Vec<String>,
    /// What breaks a rule under an exception, with its reason.
    excepted: Vec<String>,
}

/// Checks `schema` against the rules, with `classification` and
/// `exceptions` (the test passes [`CLASSIFICATION`] and [`EXCEPTIONS`]; the
/// self-test passes altered ones).
fn check(
    schema: &Schema,
    classification: &[(&str, Placement)],
    exceptions: &[Exception],
) -> Outcome {
    let mut out = Outcome::default();
    let mut placement: BTreeMap<&str, Placement> = BTreeMap::new();
    for &(table, place) in classification {
        if placement.insert(table, place).is_some() {
            out.failures
                .push(format!("`{table}`: classified twice in CLASSIFICATION; keep one entry"));
        }
    }
    for table in schema.keys().filter(|t| !placement.contains_key(t.as_str())) {
        out.failures.push(format!(
            "`{table}`: not classified. Add it to CLASSIFICATION in \
             tests/tests/api/schema_rules.rs: PerOrganisation if each row belongs to one \
             organisation (it then needs {ORG} in its keys), Reference if every tenant shares \
             it, ServerLocal if the application never reads it (docs/scaling.md, \"Which table \
             goes where\")"
        ));
    }
    for table in placement.keys().filter(|t| !schema.contains_key(**t)) {
        out.failures.push(format!(
            "`{table}`: classified, but the migrated schema has no such table; remove it from \
             CLASSIFICATION"
        ));
    }

    let anchor = schema.get(COUNTER).and_then(|t| t.columns.get(ORG)).map(|c| &c.declared);
    let mut findings: Vec<(&str, Finding)> = Vec::new();
    for (name, table) in schema {
        match placement.get(name.as_str()) {
            Some(PerOrganisation) => {
                per_organisation(name, table, anchor, &placement, &mut findings, &mut out);
            }
            Some(Reference(_)) => {
                for fk in &table.foreign_keys {
                    if !matches!(placement.get(fk.target.as_str()), Some(Reference(_))) {
                        out.failures.push(format!(
                            "`{name}`: a reference table, but its foreign key ({}) points at \
                             `{}`, which is not one: a copy on every node cannot point at rows \
                             that live on one",
                            fk.columns.join(", "),
                            fk.target
                        ));
                    }
                }
            }
            Some(ServerLocal(_)) | None => {}
        }
    }

    match (schema.get(COUNTER), placement.get(COUNTER)) {
        (Some(counter), Some(PerOrganisation)) if counter.primary_key == [ORG] => {}
        (Some(counter), _) => out.failures.push(format!(
            "`{COUNTER}`: must be a per-organisation table keyed by {ORG} alone (one counter \
             row per organisation, on its shard, bumped last in every writing transaction; \
             docs/scaling.md, \"The feed counter\"), but its primary key is ({})",
            counter.primary_key.join(", ")
        )),
        (None, _) => out.failures.push(format!("`{COUNTER}`: missing from the schema")),
    }

    let mut used = vec![false; exceptions.len()];
    for (table, finding) in findings {
        let covering =
            exceptions.iter().position(|e| e.table == table && finding.is_covered_by(&e.rule));
        match covering {
            Some(i) => {
                used[i] = true;
                out.excepted.push(format!(
                    "{table}: {} -- {}",
                    finding.describe(),
                    exceptions[i].reason
                ));
            }
            None => out.failures.push(format!(
                "`{table}`: {}. Citus keeps a unique key or a foreign key between sharded tables \
                 only when it includes the distribution column: add {ORG}, or add an exception \
                 with its reason to EXCEPTIONS (docs/scaling.md)",
                finding.describe()
            )),
        }
    }
    for (exception, _) in exceptions.iter().zip(used).filter(|(_, used)| !used) {
        let table = exception.table;
        let rule = describe_rule(&exception.rule);
        let why = if !schema.contains_key(table) {
            "the table no longer exists".to_owned()
        } else if placement.get(table) != Some(&PerOrganisation) {
            "the table is not classified PerOrganisation".to_owned()
        } else {
            "the table obeys that rule now".to_owned()
        };
        out.failures.push(format!(
            "`{table}`: the exception for {rule} is stale ({why}); remove it from EXCEPTIONS so \
             the list only shrinks"
        ));
    }
    out
}

/// The rules of one per-organisation table: hard failures go to `out`,
/// breaks an exception may cover to `findings`.
fn per_organisation<'a>(
    name: &'a str,
    table: &Table,
    anchor: Option<&String>,
    placement: &BTreeMap<&str, Placement>,
    findings: &mut Vec<(&'a str, Finding)>,
    out: &mut Outcome,
) {
    let Some(org) = table.columns.get(ORG) else {
        findings.push((name, Finding::NoOrganisationColumn));
        return;
    };
    if org.nullable {
        out.failures.push(format!(
            "`{name}`: {ORG} may be NULL; a distribution column must always have a value"
        ));
    }
    if let Some(anchor) = anchor
        && !org.declared.eq_ignore_ascii_case(anchor)
    {
        out.failures.push(format!(
            "`{name}`: {ORG} is declared {}, {COUNTER}.{ORG} {anchor}; co-located tables need \
             the same type",
            org.declared
        ));
    }
    if !table.primary_key.is_empty() && !table.primary_key.iter().any(|c| c == ORG) {
        findings.push((
            name,
            Finding::Key { what: "primary key".into(), columns: table.primary_key.clone() },
        ));
    }
    for index in table.unique.iter().filter(|i| !i.columns.iter().any(|c| c == ORG)) {
        findings.push((
            name,
            Finding::Key {
                what: format!("unique index {}", index.name),
                columns: index.columns.clone(),
            },
        ));
    }
    for fk in &table.foreign_keys {
        match placement.get(fk.target.as_str()) {
            Some(PerOrganisation) => {
                let paired =
                    fk.columns.iter().zip(&fk.target_columns).any(|(c, t)| c == ORG && t == ORG);
                if !paired {
                    findings.push((
                        name,
                        Finding::ForeignKey {
                            columns: fk.columns.clone(),
                            target: fk.target.clone(),
                        },
                    ));
                }
            }
            Some(ServerLocal(_)) => out.failures.push(format!(
                "`{name}`: its foreign key ({}) points at the server-local `{}`, which the \
                 shards do not have",
                fk.columns.join(", "),
                fk.target
            )),
            // Reference tables are on every node; an unclassified target
            // fails on its own.
            Some(Reference(_)) | None => {}
        }
    }
}

/// A text column of a catalogue row.
fn text(row: &QueryResult, column: &str) -> String {
    row.try_get::<String>("", column).unwrap_or_else(|e| panic!("{column}: {e}"))
}

/// An integer column of a catalogue row.
fn int(row: &QueryResult, column: &str) -> i64 {
    row.try_get::<i64>("", column).unwrap_or_else(|e| panic!("{column}: {e}"))
}

/// A comma-separated column list as Postgres's `string_agg` gives it.
fn list(row: &QueryResult, column: &str) -> Vec<String> {
    let joined = row.try_get::<Option<String>>("", column).ok().flatten().unwrap_or_default();
    joined.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect()
}

/// The migrated schema of `app`'s database.
async fn migrated_schema(app: &TestApp) -> Schema {
    match app.state.db.get_database_backend() {
        DbBackend::Sqlite => sqlite_schema(app).await,
        DbBackend::Postgres => postgres_schema(app).await,
        other => panic!("no catalogue reader for {other:?}"),
    }
}

async fn sqlite_schema(app: &TestApp) -> Schema {
    let mut schema = Schema::new();
    let names = query(
        app,
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        vec![],
    )
    .await;
    for name in names.iter().map(|row| text(row, "name")) {
        let mut table = Table::default();
        let mut key: Vec<(i64, String)> = Vec::new();
        for row in query(app, &format!("PRAGMA table_info(\"{name}\")"), vec![]).await {
            let column = text(&row, "name");
            // `pk` is the column's position in the primary key, 0 if not in it.
            if int(&row, "pk") > 0 {
                key.push((int(&row, "pk"), column.clone()));
            }
            let column_info =
                Column { declared: text(&row, "type"), nullable: int(&row, "notnull") == 0 };
            table.columns.insert(column, column_info);
        }
        key.sort();
        table.primary_key = key.into_iter().map(|(_, c)| c).collect();
        for index in query(app, &format!("PRAGMA index_list(\"{name}\")"), vec![]).await {
            // The primary key's own index (origin `pk`) is read above from
            // table_info, which also covers a rowid key that has no index.
            if int(&index, "unique") == 0 || text(&index, "origin") == "pk" {
                continue;
            }
            let index_name = text(&index, "name");
            let columns = query(app, &format!("PRAGMA index_info(\"{index_name}\")"), vec![])
                .await
                .iter()
                .map(|c| {
                    c.try_get::<Option<String>>("", "name")
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| "(expression)".into())
                })
                .collect();
            table.unique.push(UniqueIndex { name: index_name, columns });
        }
        let mut keys: BTreeMap<i64, Link> = BTreeMap::new();
        for row in query(app, &format!("PRAGMA foreign_key_list(\"{name}\")"), vec![]).await {
            // Rows come in `seq` order within each key `id`.
            let fk = keys.entry(int(&row, "id")).or_insert_with(|| Link {
                columns: Vec::new(),
                target: text(&row, "table"),
                target_columns: Vec::new(),
            });
            fk.columns.push(text(&row, "from"));
            // A key written without target columns names the target's
            // primary key: left empty here and filled below.
            if let Some(to) = row.try_get::<Option<String>>("", "to").ok().flatten() {
                fk.target_columns.push(to);
            }
        }
        table.foreign_keys = keys.into_values().collect();
        schema.insert(name, table);
    }
    let primary_keys: BTreeMap<String, Vec<String>> =
        schema.iter().map(|(n, t)| (n.clone(), t.primary_key.clone())).collect();
    for fk in schema.values_mut().flat_map(|t| t.foreign_keys.iter_mut()) {
        if fk.target_columns.is_empty() {
            fk.target_columns = primary_keys.get(&fk.target).cloned().unwrap_or_default();
        }
    }
    schema
}

async fn postgres_schema(app: &TestApp) -> Schema {
    let mut schema = Schema::new();
    for row in query(
        app,
        "SELECT table_name::text AS table_name FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        vec![],
    )
    .await
    {
        schema.insert(text(&row, "table_name"), Table::default());
    }
    for row in query(
        app,
        "SELECT table_name::text AS table_name, column_name::text AS column_name, \
         data_type::text AS data_type, is_nullable::text AS is_nullable \
         FROM information_schema.columns WHERE table_schema = current_schema()",
        vec![],
    )
    .await
    {
        // Columns of views have no entry among the base tables.
        if let Some(table) = schema.get_mut(&text(&row, "table_name")) {
            let column = Column {
                declared: text(&row, "data_type"),
                nullable: text(&row, "is_nullable") == "YES",
            };
            table.columns.insert(text(&row, "column_name"), column);
        }
    }
    // Unique indexes, the primary key's among them, with their key columns
    // in order (INCLUDE columns are not part of the key; an expression has
    // attribute number 0 and shows as `(expression)`).
    for row in query(
        app,
        "SELECT t.relname::text AS table_name, i.relname::text AS index_name, \
         ix.indisprimary AS is_primary, \
         (SELECT string_agg(COALESCE(a.attname::text, '(expression)'), ',' ORDER BY k.n) \
            FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
            LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
           WHERE k.n <= ix.indnkeyatts) AS columns \
         FROM pg_index ix \
         JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_namespace ns ON ns.oid = t.relnamespace \
         WHERE ix.indisunique AND ns.nspname = current_schema() \
         ORDER BY 1, 2",
        vec![],
    )
    .await
    {
        let Some(table) = schema.get_mut(&text(&row, "table_name")) else { continue };
        let columns = list(&row, "columns");
        if row.try_get::<bool>("", "is_primary").unwrap_or_else(|e| panic!("is_primary: {e}")) {
            table.primary_key = columns;
        } else {
            table.unique.push(UniqueIndex { name: text(&row, "index_name"), columns });
        }
    }
    for row in query(
        app,
        "SELECT t.relname::text AS table_name, r.relname::text AS target, \
         (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
            FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) \
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns, \
         (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
            FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, n) \
            JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) \
           AS target_columns \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class r ON r.oid = c.confrelid \
         JOIN pg_namespace ns ON ns.oid = t.relnamespace \
         WHERE c.contype = 'f' AND ns.nspname = current_schema() \
         ORDER BY 1, c.conname",
        vec![],
    )
    .await
    {
        if let Some(table) = schema.get_mut(&text(&row, "table_name")) {
            table.foreign_keys.push(Link {
                columns: list(&row, "columns"),
                target: text(&row, "target"),
                target_columns: list(&row, "target_columns"),
            });
        }
    }
    schema
}

#[tokio::test]
async fn the_schema_can_be_distributed_by_organisation() {
    let app = spawn_app().await;
    let backend = app.state.db.get_database_backend();
    let schema = migrated_schema(&app).await;
    let outcome = check(&schema, CLASSIFICATION, EXCEPTIONS);
    // The exceptions are the work left before Citus (docs/scaling.md): shown
    // on every run (`--nocapture`) so the list stays in sight.
    println!(
        "{} exception(s) to the distribution rules on {backend:?}:\n  {}",
        outcome.excepted.len(),
        outcome.excepted.join("\n  ")
    );
    assert!(
        outcome.failures.is_empty(),
        "the schema breaks the distribution rules on {backend:?} ({} failure(s)):\n  {}",
        outcome.failures.len(),
        outcome.failures.join("\n  ")
    );
    assert_eq!(outcome.excepted.len(), EXCEPTIONS.len(), "every exception is used once");
}

/// The rules see what breaks them, on the backend in use: an unclassified
/// table, a table dropped from the classification, a per-organisation table
/// with a nullable or mistyped `organisation_id` and a key without it, a
/// unique index without it, a reference table pointing at a sharded one, a
/// counter keyed wrongly, and exceptions for a table that obeys and for one
/// that does not exist.
#[tokio::test]
async fn a_schema_that_breaks_the_rules_is_reported() {
    let app = spawn_app().await;
    let backend = app.state.db.get_database_backend();
    let uuid = if backend == DbBackend::Postgres { "UUID" } else { "uuid_text" };
    exec(&app, &format!("CREATE TABLE gizmos (id {uuid} PRIMARY KEY)"), vec![]).await;
    let widgets = format!("CREATE TABLE widgets (id {uuid} PRIMARY KEY, organisation_id TEXT)");
    exec(&app, &widgets, vec![]).await;
    let colours = format!(
        "CREATE TABLE colours (id {uuid} PRIMARY KEY, contact_id {uuid} REFERENCES contacts (id))"
    );
    exec(&app, &colours, vec![]).await;
    exec(&app, "CREATE UNIQUE INDEX uq_contacts_note ON contacts (note)", vec![]).await;
    // Nothing refers to sync_counters, so it can be made again, wrongly.
    exec(&app, "DROP TABLE sync_counters", vec![]).await;
    let counter = format!(
        "CREATE TABLE sync_counters (organisation_id {uuid} NOT NULL, last_seq BIGINT NOT NULL, \
         horizon_seq BIGINT NOT NULL, PRIMARY KEY (organisation_id, last_seq))"
    );
    exec(&app, &counter, vec![]).await;

    let mut classification: Vec<(&str, Placement)> =
        CLASSIFICATION.iter().copied().filter(|(t, _)| *t != "sites").collect();
    classification.push(("widgets", PerOrganisation));
    classification.push(("colours", Reference("a test table")));
    let stale = [
        except("sync_changes", Key(&["seq"]), "obeys: its key is (organisation_id, seq)"),
        except("doohickeys", NoOrganisationColumn, "no such table"),
    ];
    let exceptions: Vec<Exception> =
        EXCEPTIONS.iter().chain(&stale).map(|e| except(e.table, e.rule, e.reason)).collect();
    let outcome = check(&migrated_schema(&app).await, &classification, &exceptions);

    let expected: [(&str, &str); 11] = [
        ("`gizmos`: ", "not classified"),
        ("`sites`: ", "not classified"),
        ("`sites`: ", "not classified PerOrganisation"),
        ("`widgets`: ", "may be NULL"),
        ("`widgets`: ", "co-located tables need the same type"),
        ("`widgets`: ", "primary key (id) does not include organisation_id"),
        ("`contacts`: ", "unique index uq_contacts_note (note)"),
        ("`colours`: ", "points at `contacts`"),
        ("`sync_counters`: ", "its primary key is (organisation_id, last_seq)"),
        ("`sync_changes`: ", "obeys that rule now"),
        ("`doohickeys`: ", "no longer exists"),
    ];
    for (start, middle) in expected {
        assert!(
            outcome.failures.iter().any(|f| f.starts_with(start) && f.contains(middle)),
            "`{start}…{middle}…` not reported on {backend:?}; found:\n{:#?}",
            outcome.failures
        );
    }
    assert_eq!(
        outcome.failures.len(),
        expected.len(),
        "unexpected extra reports on {backend:?}: {:#?}",
        outcome.failures
    );
    // The exceptions still in force are still listed, with their reasons.
    assert_eq!(outcome.excepted.len(), EXCEPTIONS.len() - 1, "all but sites' are used");
}

/// The lists themselves: one entry per table and per exception, and every
/// exception about a table classified per organisation (checked without a
/// database, so a slip shows even where the suite cannot reach one).
#[test]
fn the_lists_are_consistent() {
    let mut tables = BTreeSet::new();
    for (table, _) in CLASSIFICATION {
        assert!(tables.insert(*table), "`{table}` is classified twice");
    }
    let mut seen = BTreeSet::new();
    for e in EXCEPTIONS {
        assert!(
            CLASSIFICATION.iter().any(|(t, p)| t == &e.table && *p == PerOrganisation),
            "the exception for `{}` names a table not classified PerOrganisation",
            e.table
        );
        assert!(!e.reason.trim().is_empty(), "the exception for `{}` gives no reason", e.table);
        assert!(
            seen.insert(format!("{}: {}", e.table, describe_rule(&e.rule))),
            "`{}` has the exception for {} twice",
            e.table,
            describe_rule(&e.rule)
        );
    }
}
