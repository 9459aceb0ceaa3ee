//! `outpost admin check`: read-only consistency checks of a deployment's
//! database, for operators (after a restore, an incident, a manual fix) and
//! for CI (after the API fuzz run, `.ci/fuzz.sh`).
//!
//! Each check counts the rows that break one rule; a consistent database
//! has zero everywhere. The rules are those the code keeps, not wishes:
//!
//! - **Tenancy.** Kit lines, referral steps, contacts, incidents, referrals,
//!   revisions, conflicts and site memberships only refer to rows of their
//!   own organisation (people, sites, partner services, users), including
//!   the ids kept inside JSON columns (`contacts.worker_ids`,
//!   `incidents.people`).
//! - **The change feed** (`sync::feed`). Per organisation, no entry is
//!   numbered above `sync_counters.last_seq` (numbers have gaps by design:
//!   the feed keeps only each record's latest change). Every record has at
//!   most one organisation-wide entry (`audience_user_id` null); a live
//!   record's is an `upsert` at the record's current version; a deleted
//!   record's is a `delete` at its current version, or gone once the
//!   tombstone horizon has passed it. Evictions are only ever per user.
//! - **Revisions** (`record_revisions`, people and referrals). A revision
//!   is written when such a record is created (version 1) and whenever its
//!   fields change (the version the write produces, which is what
//!   `field_versions` records). Status steps of a referral and deletions
//!   raise the version without a revision, because they change no field a
//!   revision holds; so the check is that version 1 and every version named
//!   in `field_versions` have a revision, and none lies beyond the record.
//! - **The mutation log.** Every `sync_mutations.result` is a JSON object
//!   whose `status` is the row's `outcome`, so a replay can be answered.
//! - **Street names.** Within an organisation no name (a code or a street
//!   name, compared as `name_key` does) belongs to two active substances,
//!   read from the substances themselves; and the `substance_names` key
//!   holds exactly the names of the active substances, each for its own.
//!
//! - **The stock ledger.** On-hand at every location and item is the sum
//!   of its movements; every ledger entry has its movements; every
//!   correction names a stocktake of its own location and item; the kit of
//!   every contact that names a location is booked out of it, and put back
//!   when the contact is deleted; and the ledger's references stay in their
//!   organisation.

mod referrals;

use std::{
    collections::{BTreeMap, HashSet},
    fmt,
};

use outpost_entity::{
    contact, incident, person, referral, substance, substance_name, sync_mutation, user,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use serde_json::Value;
use uuid::Uuid;

/// One rule and how many rows break it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// A stable name, e.g. `feed.live_record_entry.person`.
    pub name: String,
    /// What the rule is, for the operator.
    pub description: String,
    /// Rows that break it.
    pub violations: u64,
}

/// The outcome of every check.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every check, in the order it ran.
    pub checks: Vec<CheckResult>,
    /// What was deliberately not checked, and why.
    pub notes: Vec<&'static str>,
}

impl Report {
    /// Whether no check found a violation.
    pub fn is_consistent(&self) -> bool {
        self.checks.iter().all(|c| c.violations == 0)
    }

    /// The violations of the check called `name` (`None`: no such check).
    pub fn violations(&self, name: &str) -> Option<u64> {
        self.checks.iter().find(|c| c.name == name).map(|c| c.violations)
    }

    fn push(&mut self, name: impl Into<String>, description: impl Into<String>, violations: u64) {
        self.checks.push(CheckResult {
            name: name.into(),
            description: description.into(),
            violations,
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            let verdict = if c.violations == 0 { "ok  " } else { "FAIL" };
            writeln!(f, "{verdict} {:>8}  {:<44} {}", c.violations, c.name, c.description)?;
        }
        for note in &self.notes {
            writeln!(f, "note           {note}")?;
        }
        let failed = self.checks.iter().filter(|c| c.violations > 0).count();
        write!(
            f,
            "{} checks, {} violated, {} violations in all",
            self.checks.len(),
            failed,
            self.checks.iter().map(|c| c.violations).sum::<u64>()
        )
    }
}

/// A synced record type: its feed name, table, and how to read its
/// version and tombstone (referral steps have neither: they are version 1
/// forever and never deleted).
struct Synced {
    entity: &'static str,
    table: &'static str,
    version: &'static str,
    deleted_at: &'static str,
}

const SYNCED: &[Synced] = &[
    Synced { entity: "person", table: "persons", version: "r.version", deleted_at: "r.deleted_at" },
    Synced {
        entity: "contact",
        table: "contacts",
        version: "r.version",
        deleted_at: "r.deleted_at",
    },
    Synced {
        entity: "incident",
        table: "incidents",
        version: "r.version",
        deleted_at: "r.deleted_at",
    },
    Synced {
        entity: "referral",
        table: "referrals",
        version: "r.version",
        deleted_at: "r.deleted_at",
    },
    Synced {
        entity: "referral_step",
        table: "referral_steps",
        version: "r.version",
        deleted_at: "NULL",
    },
    Synced { entity: "stock_entry", table: "stock_entries", version: "1", deleted_at: "NULL" },
    Synced { entity: "consent", table: "consents", version: "r.version", deleted_at: "NULL" },
    Synced {
        entity: "consent_revocation",
        table: "consent_revocations",
        version: "1",
        deleted_at: "NULL",
    },
];

/// The tables that, on Postgres, have no foreign key to `organisations`.
pub use outpost_migration::m20261202_000004_drop_hot_organisation_keys::TABLES as ORGANISATION_UNKEYED;

/// The stock ledger's tables, made without foreign keys on either backend
/// (migration `m20261203_000001`).
pub const LEDGER_TABLES: &[&str] = &["stock_entries", "stock_movements", "stock_levels"];

/// Every table whose rows' organisation no key checks, on Postgres.
pub fn organisation_unkeyed() -> impl Iterator<Item = &'static str> {
    ORGANISATION_UNKEYED.iter().chain(LEDGER_TABLES).copied()
}

/// `(table, column, target table, what)`: a nullable reference that must
/// point at a row of the same organisation.
const SAME_ORG_REFERENCES: &[(&str, &str, &str, &str)] = &[
    ("kit_lines", "contact_id", "contacts", "kit line's contact"),
    ("referral_steps", "referral_id", "referrals", "referral step's referral"),
    ("contacts", "person_id", "persons", "contact's person"),
    ("referrals", "person_id", "persons", "referral's person"),
    ("contacts", "site_id", "sites", "contact's site"),
    ("incidents", "site_id", "sites", "incident's site"),
    ("referrals", "site_id", "sites", "referral's site"),
    ("referrals", "partner_service_id", "partner_services", "referral's partner service"),
    ("persons", "created_by", "users", "person's creator"),
    ("contacts", "recorded_by", "users", "contact's recorder"),
    ("incidents", "recorded_by", "users", "incident's recorder"),
    ("referrals", "recorded_by", "users", "referral's recorder"),
    ("referral_steps", "recorded_by", "users", "referral step's recorder"),
    ("contacts", "device_id", "devices", "contact's device"),
    ("stock_entries", "location_id", "stock_locations", "stock entry's location"),
    ("stock_entries", "to_location_id", "stock_locations", "transfer's destination"),
    ("stock_entries", "site_id", "sites", "stock entry's site"),
    ("stock_entries", "recorded_by", "users", "stock entry's recorder"),
    ("stock_movements", "location_id", "stock_locations", "stock movement's location"),
    ("stock_levels", "location_id", "stock_locations", "on-hand figure's location"),
    ("stock_locations", "site_id", "sites", "stock location's site"),
    ("contacts", "stock_location_id", "stock_locations", "contact's stock location"),
    ("stock_thresholds", "location_id", "stock_locations", "threshold's location"),
    ("stock_thresholds", "site_id", "sites", "threshold's site"),
    ("stock_entries", "device_id", "devices", "stock entry's device"),
    ("devices", "stock_location_id", "stock_locations", "device's bag"),
    ("incidents", "device_id", "devices", "incident's device"),
    ("consents", "person_id", "persons", "consent's person"),
    ("consents", "recorded_by", "users", "consent's recorder"),
    ("consent_revocations", "consent_id", "consents", "revocation's consent"),
    ("consent_revocations", "person_id", "persons", "revocation's person"),
    ("webhook_deliveries", "endpoint_id", "webhook_endpoints", "webhook delivery's endpoint"),
    ("webhook_attempts", "delivery_id", "webhook_deliveries", "webhook attempt's delivery"),
];

/// Runs every check against `db` (SQLite or Postgres). Read-only.
pub async fn run(db: &DatabaseConnection) -> Result<Report, DbErr> {
    let mut report = Report::default();
    tenancy(db, &mut report).await?;
    feed(db, &mut report).await?;
    revisions(db, &mut report).await?;
    mutation_log(db, &mut report).await?;
    substance_names(db, &mut report).await?;
    stock(db, &mut report).await?;
    referrals::check(db, &mut report).await?;
    Ok(report)
}

async fn count(db: &DatabaseConnection, sql: &str) -> Result<u64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("no row from {sql}")))?;
    Ok(row.try_get::<i64>("", "n")?.max(0) as u64)
}

async fn tenancy(db: &DatabaseConnection, report: &mut Report) -> Result<(), DbErr> {
    // On Postgres these tables have no foreign key to organisations (see
    // the migration): this count stands in for it.
    for table in organisation_unkeyed() {
        let n = count(
            db,
            &format!(
                "SELECT COUNT(*) AS n FROM {table} x WHERE NOT EXISTS \
                 (SELECT 1 FROM organisations o WHERE o.id = x.organisation_id)"
            ),
        )
        .await?;
        report.push(format!("tenancy.{table}.organisation"), "every row's organisation exists", n);
    }
    for (table, column, target, what) in SAME_ORG_REFERENCES {
        let n = count(
            db,
            &format!(
                "SELECT COUNT(*) AS n FROM {table} x WHERE x.{column} IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM {target} t WHERE t.id = x.{column} \
                 AND t.organisation_id = x.organisation_id)"
            ),
        )
        .await?;
        report.push(
            format!("tenancy.{table}.{column}"),
            format!("the {what} exists in the same organisation"),
            n,
        );
    }
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM user_sites us WHERE NOT EXISTS \
         (SELECT 1 FROM users u JOIN sites s ON s.organisation_id = u.organisation_id \
         WHERE u.id = us.user_id AND s.id = us.site_id)",
    )
    .await?;
    report.push("tenancy.user_sites", "a user's sites belong to the user's organisation", n);
    for (entity, table) in [("person", "persons"), ("referral", "referrals")] {
        let n = count(
            db,
            &format!(
                "SELECT COUNT(*) AS n FROM record_revisions v WHERE v.entity = '{entity}' \
                 AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.id = v.record_id \
                 AND r.organisation_id = v.organisation_id)"
            ),
        )
        .await?;
        report.push(
            format!("tenancy.record_revisions.{entity}"),
            format!("a {entity} revision's record exists in the same organisation"),
            n,
        );
    }
    let conflicts = SYNCED
        .iter()
        .filter(|s| matches!(s.entity, "person" | "referral"))
        .map(|s| {
            format!(
                "(c.entity = '{}' AND EXISTS (SELECT 1 FROM {} r WHERE r.id = c.record_id \
                 AND r.organisation_id = c.organisation_id))",
                s.entity, s.table
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let n =
        count(db, &format!("SELECT COUNT(*) AS n FROM sync_conflicts c WHERE NOT ({conflicts})"))
            .await?;
    report.push(
        "tenancy.sync_conflicts",
        "a conflict is about a person or referral of its organisation",
        n,
    );
    json_references(db, report).await
}

/// The ids kept in JSON columns: a contact's workers are users, an
/// incident's people are persons, of the record's own organisation.
async fn json_references(db: &DatabaseConnection, report: &mut Report) -> Result<(), DbErr> {
    let users: HashSet<(Uuid, Uuid)> = user::Entity::find()
        .select_only()
        .columns([user::Column::OrganisationId, user::Column::Id])
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut bad = 0;
    let mut pages = contact::Entity::find()
        .select_only()
        .columns([contact::Column::OrganisationId, contact::Column::WorkerIds])
        .order_by_asc(contact::Column::Id)
        .into_tuple::<(Uuid, String)>()
        .paginate(db, 5000);
    while let Some(page) = pages.fetch_and_next().await? {
        for (org, workers) in page {
            match serde_json::from_str::<Vec<Uuid>>(&workers) {
                Ok(ids) => bad += ids.iter().filter(|id| !users.contains(&(org, **id))).count(),
                Err(_) => bad += 1,
            }
        }
    }
    report.push(
        "tenancy.contacts.worker_ids",
        "a contact's workers are users of its organisation (and the list parses)",
        bad as u64,
    );

    let persons: HashSet<(Uuid, Uuid)> = person::Entity::find()
        .select_only()
        .columns([person::Column::OrganisationId, person::Column::Id])
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut bad = 0;
    let mut pages = incident::Entity::find()
        .select_only()
        .columns([incident::Column::OrganisationId, incident::Column::People])
        .order_by_asc(incident::Column::Id)
        .into_tuple::<(Uuid, String)>()
        .paginate(db, 5000);
    while let Some(page) = pages.fetch_and_next().await? {
        for (org, people) in page {
            let Ok(Value::Array(people)) = serde_json::from_str::<Value>(&people) else {
                bad += 1;
                continue;
            };
            for party in people {
                match party.get("person_id") {
                    None | Some(Value::Null) => {}
                    Some(id) => {
                        let known = id
                            .as_str()
                            .and_then(|s| s.parse::<Uuid>().ok())
                            .is_some_and(|id| persons.contains(&(org, id)));
                        bad += usize::from(!known);
                    }
                }
            }
        }
    }
    report.push(
        "tenancy.incidents.people",
        "an incident's people are persons of its organisation (and the list parses)",
        bad as u64,
    );
    Ok(())
}

async fn feed(db: &DatabaseConnection, report: &mut Report) -> Result<(), DbErr> {
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM sync_changes s LEFT JOIN sync_counters c \
         ON c.organisation_id = s.organisation_id \
         WHERE c.organisation_id IS NULL OR s.seq < 1 OR s.seq > c.last_seq",
    )
    .await?;
    report.push(
        "feed.seq_within_counter",
        "every change number lies in 1..=sync_counters.last_seq of its organisation",
        n,
    );
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM sync_counters WHERE horizon_seq < 0 OR horizon_seq > last_seq",
    )
    .await?;
    report.push("feed.horizon_within_counter", "the tombstone horizon lies in 0..=last_seq", n);
    // The primary key (organisation_id, seq) makes this impossible today;
    // the check stays so a schema change cannot lose the rule unnoticed.
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM (SELECT organisation_id, seq FROM sync_changes \
         GROUP BY organisation_id, seq HAVING COUNT(*) > 1) d",
    )
    .await?;
    report.push("feed.unique_seq", "no change number is used twice in an organisation", n);
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM (SELECT organisation_id, entity, record_id FROM sync_changes \
         WHERE audience_user_id IS NULL GROUP BY organisation_id, entity, record_id \
         HAVING COUNT(*) > 1) d",
    )
    .await?;
    report.push(
        "feed.one_entry_per_record",
        "the feed keeps one organisation-wide entry per record (its latest change)",
        n,
    );
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM sync_changes WHERE (audience_user_id IS NULL \
         AND op NOT IN ('upsert', 'delete')) OR op NOT IN ('upsert', 'delete', 'evict')",
    )
    .await?;
    report.push("feed.ops", "ops are upsert, delete or evict, and evictions are per user only", n);

    for s in SYNCED {
        let (entity, table, version, deleted_at) = (s.entity, s.table, s.version, s.deleted_at);
        let org_wide = format!(
            "FROM sync_changes s WHERE s.organisation_id = r.organisation_id \
             AND s.entity = '{entity}' AND s.record_id = r.id AND s.audience_user_id IS NULL"
        );
        let n = count(
            db,
            &format!(
                "SELECT COUNT(*) AS n FROM {table} r WHERE {deleted_at} IS NULL AND NOT EXISTS \
                 (SELECT 1 {org_wide} AND s.op = 'upsert' AND s.version = {version})"
            ),
        )
        .await?;
        report.push(
            format!("feed.live_record_entry.{entity}"),
            format!("every live {entity} has an upsert entry at its current version"),
            n,
        );
        if deleted_at != "NULL" {
            let n = count(
                db,
                &format!(
                    "SELECT COUNT(*) AS n FROM {table} r WHERE {deleted_at} IS NOT NULL AND (\
                     EXISTS (SELECT 1 {org_wide} AND (s.op <> 'delete' OR s.version <> {version})) \
                     OR (NOT EXISTS (SELECT 1 {org_wide}) AND COALESCE((SELECT c.horizon_seq \
                     FROM sync_counters c WHERE c.organisation_id = r.organisation_id), 0) = 0))"
                ),
            )
            .await?;
            report.push(
                format!("feed.tombstone_entry.{entity}"),
                format!(
                    "every deleted {entity}'s entry is a delete at its current version \
                     (or purged past the horizon)"
                ),
                n,
            );
        }
        let n = count(
            db,
            &format!(
                "SELECT COUNT(*) AS n FROM sync_changes s WHERE s.entity = '{entity}' \
                 AND NOT EXISTS (SELECT 1 FROM {table} r WHERE r.id = s.record_id \
                 AND r.organisation_id = s.organisation_id)"
            ),
        )
        .await?;
        report.push(
            format!("feed.entry_record.{entity}"),
            format!("every {entity} entry names a {entity} of its organisation"),
            n,
        );
    }
    Ok(())
}

async fn revisions(db: &DatabaseConnection, report: &mut Report) -> Result<(), DbErr> {
    for (entity, table) in [("person", "persons"), ("referral", "referrals")] {
        let n = count(
            db,
            &format!(
                "SELECT COUNT(*) AS n FROM {table} r WHERE NOT EXISTS (SELECT 1 FROM \
                 record_revisions v WHERE v.entity = '{entity}' AND v.record_id = r.id \
                 AND v.version = 1)"
            ),
        )
        .await?;
        report.push(
            format!("revisions.first.{entity}"),
            format!("every {entity} has its version 1 revision"),
            n,
        );
        let n = count(
            db,
            &format!(
                "SELECT COUNT(*) AS n FROM record_revisions v JOIN {table} r ON r.id = v.record_id \
                 WHERE v.entity = '{entity}' AND (v.version < 1 OR v.version > r.version)"
            ),
        )
        .await?;
        report.push(
            format!("revisions.within_version.{entity}"),
            format!("no {entity} revision lies beyond the record's version"),
            n,
        );
    }

    // Every version named in field_versions had a field write, which wrote
    // a revision at that version.
    let revisions: HashSet<(String, Uuid, i64)> = outpost_entity::record_revision::Entity::find()
        .select_only()
        .columns([
            outpost_entity::record_revision::Column::Entity,
            outpost_entity::record_revision::Column::RecordId,
            outpost_entity::record_revision::Column::Version,
        ])
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut rows: Vec<(&str, Uuid, i64, String)> = Vec::new();
    let persons: Vec<(Uuid, i64, String)> = person::Entity::find()
        .select_only()
        .columns([person::Column::Id, person::Column::Version, person::Column::FieldVersions])
        .into_tuple()
        .all(db)
        .await?;
    rows.extend(persons.into_iter().map(|(id, v, f)| ("person", id, v, f)));
    let referrals: Vec<(Uuid, i64, String)> = referral::Entity::find()
        .select_only()
        .columns([referral::Column::Id, referral::Column::Version, referral::Column::FieldVersions])
        .into_tuple()
        .all(db)
        .await?;
    rows.extend(referrals.into_iter().map(|(id, v, f)| ("referral", id, v, f)));
    let mut bad = BTreeMap::from([("person", 0u64), ("referral", 0u64)]);
    for (entity, id, version, field_versions) in rows {
        let ok = match serde_json::from_str::<BTreeMap<String, i64>>(&field_versions) {
            Ok(fields) => fields.values().all(|v| {
                (1..=version).contains(v) && revisions.contains(&(entity.to_owned(), id, *v))
            }),
            Err(_) => false,
        };
        if !ok {
            *bad.entry(entity).or_default() += 1;
        }
    }
    for (entity, n) in bad {
        report.push(
            format!("revisions.field_versions.{entity}"),
            format!(
                "every version in a {entity}'s field_versions is within its version and has \
                 a revision"
            ),
            n,
        );
    }
    Ok(())
}

async fn mutation_log(db: &DatabaseConnection, report: &mut Report) -> Result<(), DbErr> {
    let mut bad = 0u64;
    let mut pages = sync_mutation::Entity::find()
        .select_only()
        .columns([sync_mutation::Column::Outcome, sync_mutation::Column::Result])
        .order_by_asc(sync_mutation::Column::OrganisationId)
        .order_by_asc(sync_mutation::Column::MutationId)
        .into_tuple::<(String, String)>()
        .paginate(db, 5000);
    while let Some(page) = pages.fetch_and_next().await? {
        for (outcome, result) in page {
            let ok = serde_json::from_str::<Value>(&result)
                .ok()
                .and_then(|v| v.get("status").and_then(Value::as_str).map(|s| s == outcome))
                .unwrap_or(false);
            bad += u64::from(!ok);
        }
    }
    report.push(
        "sync_mutations.result",
        "every logged result is a JSON object whose status is the row's outcome",
        bad,
    );
    Ok(())
}

async fn substance_names(db: &DatabaseConnection, report: &mut Report) -> Result<(), DbErr> {
    use crate::records::reference::substance::{aliases_of, name_key};
    let active =
        substance::Entity::find().filter(substance::Column::ArchivedAt.is_null()).all(db).await?;
    let mut owner: BTreeMap<(Uuid, String), HashSet<Uuid>> = BTreeMap::new();
    for s in &active {
        for name in std::iter::once(s.code.clone()).chain(aliases_of(s)) {
            owner.entry((s.organisation_id, name_key(&name))).or_default().insert(s.id);
        }
    }
    let ambiguous = owner.values().filter(|ids| ids.len() > 1).count() as u64;
    report.push(
        "substances.names_unique",
        "no name (code or street name) answers to two active substances of an organisation",
        ambiguous,
    );
    let keyed: BTreeMap<(Uuid, String), Uuid> = substance_name::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|n| ((n.organisation_id, n.name_key), n.substance_id))
        .collect();
    let missing = owner
        .iter()
        .filter(|(key, ids)| ids.len() == 1 && keyed.get(*key).is_none_or(|id| !ids.contains(id)))
        .count();
    let stray = keyed.keys().filter(|key| !owner.contains_key(*key)).count();
    report.push(
        "substances.names_keyed",
        "substance_names holds each active substance's names, and nothing else",
        (missing + stray) as u64,
    );
    Ok(())
}

/// The stock ledger: on-hand is the sum of the movements, every entry is
/// booked, and a correction points at a stocktake of its own location and
/// item.
async fn stock(db: &DatabaseConnection, report: &mut Report) -> Result<(), DbErr> {
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM (\
         SELECT l.organisation_id, l.location_id, l.item_code FROM stock_levels l \
         WHERE l.on_hand <> COALESCE((SELECT SUM(m.delta) FROM stock_movements m \
         WHERE m.organisation_id = l.organisation_id AND m.location_id = l.location_id \
         AND m.item_code = l.item_code), 0) \
         UNION ALL \
         SELECT m.organisation_id, m.location_id, m.item_code FROM stock_movements m \
         WHERE NOT EXISTS (SELECT 1 FROM stock_levels l WHERE l.organisation_id = \
         m.organisation_id AND l.location_id = m.location_id AND l.item_code = m.item_code) \
         GROUP BY m.organisation_id, m.location_id, m.item_code HAVING SUM(m.delta) <> 0) d",
    )
    .await?;
    report.push(
        "stock.on_hand_is_ledger_sum",
        "on-hand at every location and item equals the sum of its movements",
        n,
    );
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM stock_entries e WHERE NOT EXISTS \
         (SELECT 1 FROM stock_movements m WHERE m.organisation_id = e.organisation_id \
         AND m.source_id = e.id AND m.cause IN ('entry', 'stocktake'))",
    )
    .await?;
    report.push("stock.entries_booked", "every ledger entry has its movements", n);
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM stock_movements c WHERE c.cause = 'correction' AND NOT EXISTS \
         (SELECT 1 FROM stock_movements s WHERE s.organisation_id = c.organisation_id \
         AND s.source_id = c.absorbed_by AND s.cause = 'stocktake' \
         AND s.location_id = c.location_id AND s.item_code = c.item_code)",
    )
    .await?;
    report.push(
        "stock.corrections_absorbed",
        "every correction names a stocktake of its own location and item",
        n,
    );
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM contacts c WHERE c.stock_location_id IS NOT NULL \
         AND EXISTS (SELECT 1 FROM kit_lines k WHERE k.contact_id = c.id) \
         AND NOT EXISTS (SELECT 1 FROM stock_movements m WHERE m.organisation_id = \
         c.organisation_id AND m.source_id = c.id AND m.cause = 'issue')",
    )
    .await?;
    report.push(
        "stock.contacts_issued",
        "the kit of every contact that names a stock location is booked out of it",
        n,
    );
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM contacts c WHERE c.deleted_at IS NOT NULL \
         AND COALESCE((SELECT SUM(m.delta) FROM stock_movements m WHERE m.organisation_id = \
         c.organisation_id AND m.source_id = c.id AND m.cause IN ('issue', 'reversal')), 0) <> 0",
    )
    .await?;
    report.push(
        "stock.deleted_contacts_reversed",
        "the kit of every deleted contact is put back where it was booked out",
        n,
    );
    let n = count(
        db,
        "SELECT COUNT(*) AS n FROM stock_thresholds t WHERE t.below <> (COALESCE((SELECT \
         l.on_hand FROM stock_levels l WHERE l.organisation_id = t.organisation_id AND \
         l.location_id = t.location_id AND l.item_code = t.item_code), 0) < t.minimum)",
    )
    .await?;
    report.push(
        "stock.thresholds_below",
        "a threshold is marked below exactly when on-hand is under its minimum",
        n,
    );
    Ok(())
}
