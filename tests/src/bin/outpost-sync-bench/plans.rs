//! The plans Postgres picks for the statements on the hot paths, built by
//! the server's own code with the ids of real records: every one must be
//! an index lookup, whatever the table's size and whether it has
//! statistics (`tests/api/plans.rs` checks the same on a small database).

use outpost_entity::{contact, kit_line, sync_mutation};
use outpost_tests::outpost_api::{
    caller::Actor, domain::Role, records::lookup::ByKeys, sync::pull,
};
use sea_orm::{ConnectionTrait, Database, DbBackend, QueryTrait, Statement};
use uuid::Uuid;

use super::workload::Setup;

/// Each statement's name and plan.
pub struct Plans(Vec<(&'static str, String)>);

impl Plans {
    /// Prints each plan (long lines cut), and flags a full scan.
    pub fn print(&self) {
        println!("\nplans of the hot statements (EXPLAIN, costs off):");
        for (name, plan) in &self.0 {
            let flag = if plan.contains("Seq Scan") { "  <-- FULL SCAN" } else { "" };
            println!("-- {name}{flag}");
            for line in plan.lines() {
                let end = line.char_indices().nth(150).map_or(line.len(), |(i, _)| i);
                println!("{}{}", &line[..end], if end < line.len() { " ..." } else { "" });
            }
        }
    }

    /// Whether any plan scans a whole table.
    pub fn any_full_scan(&self) -> bool {
        self.0.iter().any(|(_, plan)| plan.contains("Seq Scan"))
    }
}

/// Explains the hot statements with the newest 1,000 contacts' ids.
pub async fn explain(url: &str, setup: &Setup) -> anyhow::Result<Plans> {
    let db = Database::connect(url).await?;
    let org = setup.organisation_id;
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT c.id, m.mutation_id FROM contacts c JOIN sync_mutations m ON m.record_id = c.id
             WHERE c.organisation_id = $1 ORDER BY c.id DESC LIMIT 1000",
            [org.into()],
        ))
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.try_get("", "id")).collect::<Result<_, _>>()?;
    let mutation_ids: Vec<Uuid> =
        rows.iter().map(|r| r.try_get("", "mutation_id")).collect::<Result<_, _>>()?;
    let pg = DbBackend::Postgres;
    let actor = Actor {
        organisation_id: org,
        user_id: Some(setup.user_id),
        device_id: None,
        api_key_id: None,
        role: Some(Role::Worker),
        site_ids: vec![setup.site_id],
    };
    let statements = vec![
        (
            "push: do the batch's 100 records exist already",
            ByKeys::<contact::Entity>::new(contact::Column::Id)
                .columns(vec![
                    contact::Column::Id,
                    contact::Column::OrganisationId,
                    contact::Column::Version,
                ])
                .statement(pg, &ids[..ids.len().min(100)]),
        ),
        (
            "push: are the batch's 100 mutations in the log",
            ByKeys::<sync_mutation::Entity>::new(sync_mutation::Column::MutationId)
                .keyed_within_organisation(sync_mutation::Column::OrganisationId, org)
                .statement(pg, &mutation_ids[..mutation_ids.len().min(100)]),
        ),
        (
            // As the server reads it: one window of 2 x 1,001 numbers.
            "pull: a worker's page of the feed (its first window)",
            pull::feed_page(&actor, 0, 2 * 1001, 1000).build(pg),
        ),
        (
            "pull: a page's 1,000 contacts",
            ByKeys::<contact::Entity>::new(contact::Column::Id)
                .in_organisation(contact::Column::OrganisationId, org)
                .statement(pg, &ids),
        ),
        (
            "pull: their kit lines",
            ByKeys::<kit_line::Entity>::new(kit_line::Column::ContactId)
                .in_organisation(kit_line::Column::OrganisationId, org)
                .ordered_by(kit_line::Column::Position)
                .statement(pg, &ids),
        ),
    ];
    let mut plans = Vec::new();
    for (name, statement) in statements {
        let explain = format!("EXPLAIN (COSTS OFF) {}", statement.sql);
        let values = statement.values.map(|v| v.0).unwrap_or_default();
        let lines = db.query_all_raw(Statement::from_sql_and_values(pg, explain, values)).await?;
        let plan: Vec<String> =
            lines.iter().map(|r| r.try_get_by_index::<String>(0)).collect::<Result<_, _>>()?;
        plans.push((name, plan.join("\n")));
    }
    db.close().await?;
    Ok(Plans(plans))
}
