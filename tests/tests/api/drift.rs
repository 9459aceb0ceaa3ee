//! The entities (`outpost_entity`) and the migrated schema agree: every
//! entity's table exists with the same columns, the same nullability and
//! the same coarse type family, on the backend the suite runs on (SQLite,
//! or Postgres with `OUTPOST_TEST_DATABASE_URL`). A table no entity
//! describes, or an entity module missing from the list below, fails too.
//!
//! The migrated schema is read from a spawned app's database:
//! `PRAGMA table_info` on SQLite, `information_schema.columns` of the
//! current schema on Postgres.

use std::collections::{BTreeMap, BTreeSet};

use outpost_tests::{
    TestApp,
    db::{exec, query},
    spawn_app,
};
use sea_orm::{ColumnTrait, ColumnType, DbBackend, EntityTrait, IdenStatic, Iterable};

/// The tables the migrator keeps for itself (sea-orm-migration's default
/// name; `outpost_migration::Migrator` does not rename it).
const BOOKKEEPING: [&str; 1] = ["seaql_migrations"];

/// A coarse type family, comparable across the entity's `ColumnType` and
/// the type the database declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Integer,
    Float,
    Text,
    Boolean,
    Uuid,
    Date,
    Time,
    Timestamp,
    Json,
    Binary,
    /// Not mapped yet: never equal to anything, so a new kind of column
    /// fails until the mapping below learns it.
    Unknown,
}

/// One column, as an entity or the database describes it.
#[derive(Clone, Debug)]
struct Column {
    name: String,
    nullable: bool,
    family: Family,
    /// The type as its side spells it, for the report.
    declared: String,
}

/// One entity: its module in `outpost_entity`, its table and columns.
struct EntityShape {
    module: &'static str,
    table: &'static str,
    columns: Vec<Column>,
}

/// The shape `E` declares.
fn shape_of<E: EntityTrait>(module: &'static str, entity: E) -> EntityShape {
    let columns = E::Column::iter()
        .map(|column| {
            let def = column.def();
            Column {
                name: column.as_str().to_owned(),
                nullable: def.is_null(),
                family: entity_family(def.get_column_type()),
                declared: format!("{:?}", def.get_column_type()),
            }
        })
        .collect();
    EntityShape { module, table: entity.table_name(), columns }
}

/// Every entity of `outpost_entity`, by module name. A module missing here
/// fails `every_entity_module_is_listed`; a table missing here fails the
/// table count of `the_entities_match_the_migrated_schema`.
macro_rules! entities {
    ($($module:ident),* $(,)?) => {
        vec![$(shape_of(stringify!($module), outpost_entity::$module::Entity)),*]
    };
}

fn entities() -> Vec<EntityShape> {
    entities![
        api_key,
        audit_event,
        contact,
        device,
        incident,
        kit_item,
        kit_line,
        organisation,
        partner_service,
        person,
        record_revision,
        referral,
        consent,
        consent_revocation,
        partner_link_code,
        referral_share,
        referral_deadline,
        referral_step,
        session,
        site,
        stock_entry,
        stock_level,
        stock_location,
        stock_movement,
        stock_threshold,
        substance,
        substance_name,
        sync_change,
        sync_conflict,
        sync_counter,
        sync_mutation,
        user,
        user_site,
        webhook_attempt,
        webhook_delivery,
        webhook_endpoint,
    ]
}

/// The family of an entity's column type.
fn entity_family(column_type: &ColumnType) -> Family {
    match column_type {
        ColumnType::TinyInteger
        | ColumnType::SmallInteger
        | ColumnType::Integer
        | ColumnType::BigInteger
        | ColumnType::TinyUnsigned
        | ColumnType::SmallUnsigned
        | ColumnType::Unsigned
        | ColumnType::BigUnsigned => Family::Integer,
        ColumnType::Float | ColumnType::Double | ColumnType::Decimal(_) | ColumnType::Money(_) => {
            Family::Float
        }
        ColumnType::Char(_) | ColumnType::String(_) | ColumnType::Text => Family::Text,
        ColumnType::Boolean => Family::Boolean,
        ColumnType::Uuid => Family::Uuid,
        ColumnType::Date => Family::Date,
        ColumnType::Time => Family::Time,
        ColumnType::DateTime | ColumnType::Timestamp | ColumnType::TimestampWithTimeZone => {
            Family::Timestamp
        }
        ColumnType::Json | ColumnType::JsonBinary => Family::Json,
        ColumnType::Blob | ColumnType::Binary(_) | ColumnType::VarBinary(_) => Family::Binary,
        _ => Family::Unknown,
    }
}

/// The family of a type SQLite declares. sea-query writes the types
/// SQLite has no storage class for under names of their own
/// (`uuid_text`, `timestamp_with_timezone_text`, `date_text`, `json_text`,
/// …), which this reads back; the plain names cover hand-written DDL.
fn sqlite_family(declared: &str) -> Family {
    let lower = declared.trim().to_ascii_lowercase();
    let base = lower.split('(').next().unwrap_or_default().trim();
    match base {
        "integer" | "int" | "bigint" | "smallint" | "tinyint" | "mediumint" | "int2" | "int4"
        | "int8" => Family::Integer,
        "real" | "float" | "double" | "double precision" | "numeric" | "decimal" | "real_money" => {
            Family::Float
        }
        "text" | "varchar" | "char" | "character" | "nvarchar" | "clob" | "enum_text" => {
            Family::Text
        }
        "boolean" | "bool" => Family::Boolean,
        "uuid_text" | "uuid" => Family::Uuid,
        "date_text" | "date" => Family::Date,
        "time_text" | "time" => Family::Time,
        "timestamp_with_timezone_text"
        | "timestamp_text"
        | "datetime_text"
        | "timestamp"
        | "datetime" => Family::Timestamp,
        "json_text" | "jsonb_text" | "json" | "jsonb" => Family::Json,
        "blob" | "varbinary_blob" => Family::Binary,
        _ => Family::Unknown,
    }
}

/// The family of a Postgres `information_schema.columns.data_type`.
fn postgres_family(data_type: &str) -> Family {
    match data_type {
        "smallint" | "integer" | "bigint" => Family::Integer,
        "real" | "double precision" | "numeric" | "money" => Family::Float,
        "text" | "character varying" | "character" => Family::Text,
        "boolean" => Family::Boolean,
        "uuid" => Family::Uuid,
        "date" => Family::Date,
        "time without time zone" | "time with time zone" => Family::Time,
        "timestamp without time zone" | "timestamp with time zone" => Family::Timestamp,
        "json" | "jsonb" => Family::Json,
        "bytea" => Family::Binary,
        _ => Family::Unknown,
    }
}

/// Whether a column the entity types as `entity` may be stored as
/// `database` on `backend`: the same family, or on SQLite (which stores
/// uuids, dates, timestamps and JSON as text) a column declared as text.
fn compatible(backend: DbBackend, entity: Family, database: Family) -> bool {
    if entity == Family::Unknown || database == Family::Unknown {
        return false;
    }
    entity == database
        || (backend == DbBackend::Sqlite
            && database == Family::Text
            && matches!(entity, Family::Uuid | Family::Date | Family::Timestamp | Family::Json))
}

/// Every way `entities` and the database's `tables` (table name to
/// columns) disagree, one line each (`table.column: what differs`).
fn mismatches(
    backend: DbBackend,
    entities: &[EntityShape],
    tables: &BTreeMap<String, Vec<Column>>,
) -> Vec<String> {
    let mut found = Vec::new();
    let expected = entities.len() + BOOKKEEPING.len();
    if tables.len() != expected {
        found.push(format!(
            "the database has {} tables, the {} listed entities and {} bookkeeping table(s) \
             make {expected}",
            tables.len(),
            entities.len(),
            BOOKKEEPING.len(),
        ));
    }
    let described: BTreeSet<&str> = entities.iter().map(|e| e.table).chain(BOOKKEEPING).collect();
    for table in tables.keys().filter(|t| !described.contains(t.as_str())) {
        found.push(format!("{table}: a table no listed entity describes"));
    }
    for entity in entities {
        let table = entity.table;
        let Some(columns) = tables.get(table) else {
            found.push(format!("{table}: no such table (entity `{}`)", entity.module));
            continue;
        };
        let in_database: BTreeMap<&str, &Column> =
            columns.iter().map(|c| (c.name.as_str(), c)).collect();
        let in_entity: BTreeSet<&str> = entity.columns.iter().map(|c| c.name.as_str()).collect();
        for column in &entity.columns {
            let name = &column.name;
            let Some(stored) = in_database.get(name.as_str()) else {
                found.push(format!("{table}.{name}: in the entity, not in the database"));
                continue;
            };
            if column.nullable != stored.nullable {
                found.push(format!(
                    "{table}.{name}: the entity says {}, the database says {}",
                    null_word(column.nullable),
                    null_word(stored.nullable),
                ));
            }
            if !compatible(backend, column.family, stored.family) {
                found.push(format!(
                    "{table}.{name}: the entity types it {:?} ({}), the database {:?} ({})",
                    column.family, column.declared, stored.family, stored.declared,
                ));
            }
        }
        for stored in columns.iter().filter(|c| !in_entity.contains(c.name.as_str())) {
            found.push(format!("{table}.{}: in the database, not in the entity", stored.name));
        }
    }
    found
}

fn null_word(nullable: bool) -> &'static str {
    if nullable { "NULL" } else { "NOT NULL" }
}

/// A text column of a catalogue row.
fn text(row: &sea_orm::QueryResult, column: &str) -> String {
    row.try_get::<String>("", column).unwrap_or_else(|e| panic!("{column}: {e}"))
}

/// Every table of the migrated database with its columns.
async fn migrated_tables(app: &TestApp) -> BTreeMap<String, Vec<Column>> {
    let mut tables = BTreeMap::new();
    match app.state.db.get_database_backend() {
        DbBackend::Sqlite => {
            let names = query(
                app,
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
                vec![],
            )
            .await;
            for name in names.iter().map(|row| text(row, "name")) {
                let info = query(app, &format!("PRAGMA table_info(\"{name}\")"), vec![]).await;
                // A lone INTEGER PRIMARY KEY is the rowid: never NULL, whatever
                // `notnull` says. Other key columns follow `notnull` (SQLite
                // lets them hold NULL unless declared NOT NULL).
                let keys = info.iter().filter(|r| r.try_get::<i64>("", "pk").unwrap() > 0).count();
                let columns = info
                    .iter()
                    .map(|row| {
                        let declared = text(row, "type");
                        let rowid = keys == 1
                            && row.try_get::<i64>("", "pk").unwrap() > 0
                            && declared.eq_ignore_ascii_case("integer");
                        Column {
                            name: text(row, "name"),
                            nullable: row.try_get::<i64>("", "notnull").unwrap() == 0 && !rowid,
                            family: sqlite_family(&declared),
                            declared,
                        }
                    })
                    .collect();
                tables.insert(name, columns);
            }
        }
        DbBackend::Postgres => {
            for row in query(
                app,
                "SELECT table_name::text AS table_name FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
                vec![],
            )
            .await
            {
                tables.insert(text(&row, "table_name"), Vec::new());
            }
            for row in query(
                app,
                "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                 data_type::text AS data_type, is_nullable::text AS is_nullable \
                 FROM information_schema.columns WHERE table_schema = current_schema() \
                 ORDER BY table_name, ordinal_position",
                vec![],
            )
            .await
            {
                let data_type = text(&row, "data_type");
                let column = Column {
                    name: text(&row, "column_name"),
                    nullable: text(&row, "is_nullable") == "YES",
                    family: postgres_family(&data_type),
                    declared: data_type,
                };
                // Columns of views have no entry among the base tables.
                if let Some(columns) = tables.get_mut(&text(&row, "table_name")) {
                    columns.push(column);
                }
            }
        }
        other => panic!("no catalogue reader for {other:?}"),
    }
    tables
}

#[tokio::test]
async fn the_entities_match_the_migrated_schema() {
    let app = spawn_app().await;
    let backend = app.state.db.get_database_backend();
    let tables = migrated_tables(&app).await;
    let found = mismatches(backend, &entities(), &tables);
    assert!(
        found.is_empty(),
        "the entities and the migrated schema disagree on {backend:?} ({} mismatches):\n  {}",
        found.len(),
        found.join("\n  ")
    );
}

/// The catalogue readers see a change made behind the migrations on the
/// backend in use: a column and a table no entity has, a column of another
/// type and one that lost its NOT NULL.
#[tokio::test]
async fn a_schema_changed_behind_the_migrations_is_reported() {
    let app = spawn_app().await;
    let backend = app.state.db.get_database_backend();
    exec(&app, "ALTER TABLE sites ADD COLUMN colour TEXT", vec![]).await;
    exec(&app, "CREATE TABLE widgets (id BIGINT NOT NULL)", vec![]).await;
    // Nothing refers to user_sites, so it can be made again, wrongly.
    exec(&app, "DROP TABLE user_sites", vec![]).await;
    let uuid = if backend == DbBackend::Postgres { "UUID" } else { "uuid_text" };
    let sql = format!("CREATE TABLE user_sites (user_id BIGINT NOT NULL, site_id {uuid})");
    exec(&app, &sql, vec![]).await;
    let found = mismatches(backend, &entities(), &migrated_tables(&app).await);
    let expected = [
        "sites.colour: in the database, not in the entity",
        "widgets: a table no listed entity describes",
        "user_sites.site_id: the entity says NOT NULL, the database says NULL",
        "user_sites.user_id: the entity types it Uuid (Uuid), the database Integer",
        "the database has ",
    ];
    for start in expected {
        assert!(
            found.iter().any(|f| f.starts_with(start)),
            "`{start}…` not reported; found:\n{found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "unexpected extra reports: {found:#?}");
}

#[test]
fn every_entity_module_is_listed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../entity/src");
    let lib = std::fs::read_to_string(format!("{dir}/lib.rs")).expect("read entity/src/lib.rs");
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|line| line.trim().strip_prefix("pub mod ")?.strip_suffix(';'))
        .filter(|module| {
            let file = std::fs::read_to_string(format!("{dir}/{module}.rs"))
                .or_else(|_| std::fs::read_to_string(format!("{dir}/{module}/mod.rs")))
                .unwrap_or_default();
            file.contains("DeriveEntityModel")
        })
        .map(str::to_owned)
        .collect();
    assert!(!modules.is_empty(), "no entity modules found in {dir}/lib.rs");
    let listed: BTreeSet<String> = entities().iter().map(|e| e.module.to_owned()).collect();
    assert_eq!(
        modules, listed,
        "entity/src/lib.rs and the list in tests/tests/api/drift.rs differ: list every entity there"
    );
}

/// The comparison itself, on a deliberately wrong pair, reports each kind
/// of mismatch (so the test above cannot pass vacuously).
#[test]
fn a_wrong_schema_is_reported_in_full() {
    let column = |name: &str, nullable: bool, family: Family, declared: &str| Column {
        name: name.to_owned(),
        nullable,
        family,
        declared: declared.to_owned(),
    };
    let user = shape_of("user", outpost_entity::user::Entity);
    let site = shape_of("site", outpost_entity::site::Entity);
    let sqlite = |c: &Column| {
        let declared = match c.family {
            Family::Uuid => "uuid_text",
            Family::Timestamp => "timestamp_with_timezone_text",
            _ => "varchar(200)",
        };
        column(&c.name, c.nullable, sqlite_family(declared), declared)
    };

    // The right pair first: no mismatch.
    let mut tables: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    tables.insert("seaql_migrations".into(), vec![]);
    tables.insert("users".into(), user.columns.iter().map(sqlite).collect());
    tables.insert("sites".into(), site.columns.iter().map(sqlite).collect());
    let both = [user, site];
    assert_eq!(mismatches(DbBackend::Sqlite, &both, &tables), Vec::<String>::new());

    // Then break it every way at once.
    let users = tables.get_mut("users").unwrap();
    users.retain(|c| c.name != "display_name");
    users.push(column("nickname", true, Family::Text, "text"));
    users.iter_mut().find(|c| c.name == "deactivated_at").unwrap().nullable = false;
    *users.iter_mut().find(|c| c.name == "created_at").unwrap() =
        column("created_at", false, Family::Integer, "integer");
    tables.remove("sites");
    tables.insert("widgets".into(), vec![column("id", false, Family::Uuid, "uuid_text")]);
    let found = mismatches(DbBackend::Sqlite, &both, &tables);
    let expected = [
        "users.display_name: in the entity, not in the database",
        "users.nickname: in the database, not in the entity",
        "users.deactivated_at: the entity says NULL, the database says NOT NULL",
        "users.created_at: the entity types it Timestamp (TimestampWithTimeZone), \
         the database Integer (integer)",
        "sites: no such table (entity `site`)",
        "widgets: a table no listed entity describes",
    ];
    for line in expected {
        assert!(found.iter().any(|f| f == line), "`{line}` not reported; found:\n{found:#?}");
    }
    assert_eq!(found.len(), expected.len(), "unexpected extra reports: {found:#?}");

    // A table fewer than entities plus bookkeeping is counted too.
    tables.remove("widgets");
    let found = mismatches(DbBackend::Sqlite, &both, &tables);
    assert!(
        found.iter().any(|f| f.starts_with("the database has 2 tables")),
        "table count not reported: {found:#?}"
    );
}

#[test]
fn the_family_mappings_are_strict_where_the_backend_is() {
    // SQLite: what sea-query declares reads back as its family.
    assert_eq!(sqlite_family("uuid_text"), Family::Uuid);
    assert_eq!(sqlite_family("timestamp_with_timezone_text"), Family::Timestamp);
    assert_eq!(sqlite_family("varchar(254)"), Family::Text);
    assert_eq!(sqlite_family("INTEGER"), Family::Integer);
    assert_eq!(sqlite_family("smallint"), Family::Integer);
    assert_eq!(sqlite_family("date_text"), Family::Date);
    assert_eq!(sqlite_family("boolean"), Family::Boolean);
    // Text may hold a uuid on SQLite, never on Postgres; nothing holds an
    // integer but an integer.
    assert!(compatible(DbBackend::Sqlite, Family::Uuid, Family::Text));
    assert!(!compatible(DbBackend::Postgres, Family::Uuid, Family::Text));
    assert!(!compatible(DbBackend::Sqlite, Family::Integer, Family::Text));
    assert!(!compatible(DbBackend::Sqlite, Family::Text, Family::Uuid));
    assert!(!compatible(DbBackend::Sqlite, Family::Unknown, Family::Unknown));
    assert_eq!(postgres_family("timestamp with time zone"), Family::Timestamp);
    assert_eq!(postgres_family("character varying"), Family::Text);
    assert_eq!(postgres_family("USER-DEFINED"), Family::Unknown);
}
