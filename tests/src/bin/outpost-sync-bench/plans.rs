//! The plans Postgres picks for the statements on the hot paths, as the
//! server sends them, with the ids of real records: every one must use an
//! index, whatever the table's size and whether or not it has statistics.

use sea_orm::sqlx::{self, Row};
use uuid::Uuid;

use super::{ceiling::Raw, workload::Setup};

/// Each statement's name and plan.
pub struct Plans(Vec<(&'static str, String)>);

impl Plans {
    /// Prints each plan, and flags a sequential scan.
    pub fn print(&self) {
        println!("\nplans of the hot statements (EXPLAIN, costs off):");
        for (name, plan) in &self.0 {
            let flag = if plan.contains("Seq Scan") { "  <-- SEQUENTIAL SCAN" } else { "" };
            println!("-- {name}{flag}");
            for line in plan.lines() {
                // The id lists make some lines very long.
                let end = line.char_indices().nth(150).map_or(line.len(), |(i, _)| i);
                println!("{}{}", &line[..end], if end < line.len() { " ..." } else { "" });
            }
        }
    }

    /// Whether any plan scans a whole table.
    pub fn any_sequential(&self) -> bool {
        self.0.iter().any(|(_, plan)| plan.contains("Seq Scan"))
    }
}

impl Raw {
    /// Explains the hot statements with ids from the organisation's feed.
    pub async fn plans(&self, setup: &Setup) -> anyhow::Result<Plans> {
        let org = setup.organisation_id;
        let rows = sqlx::query(
            "SELECT record_id, seq FROM sync_changes WHERE organisation_id = $1 AND entity = 'contact'
             ORDER BY seq DESC LIMIT 1000",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.get("record_id")).collect();
        let last: i64 = rows.first().map(|r| r.get("seq")).unwrap_or(0);
        let list = |n: usize| {
            ids.iter().take(n).map(|id| format!("'{id}'")).collect::<Vec<_>>().join(", ")
        };
        let (hundred, thousand) = (list(100), list(1000));
        let (user, site) = (setup.user_id, setup.site_id);
        let statements: Vec<(&'static str, String)> = vec![
            (
                "push: do the batch's records exist already",
                format!("SELECT id, organisation_id, version FROM contacts WHERE id IN ({hundred})"),
            ),
            (
                "push: are the batch's mutations in the log",
                format!(
                    "SELECT * FROM sync_mutations WHERE organisation_id = '{org}' AND mutation_id IN ({hundred})"
                ),
            ),
            (
                "pull: a page of the feed (a worker's scope)",
                format!(
                    "SELECT * FROM sync_changes WHERE organisation_id = '{org}' AND seq > {after} AND seq <= {last}
                     AND (audience_user_id IS NULL OR audience_user_id = '{user}')
                     AND (visibility = 'org' OR audience_user_id = '{user}' OR owner_user_id = '{user}'
                          OR (visibility = 'site' AND (site_id IS NULL OR site_id IN ('{site}'))))
                     ORDER BY seq LIMIT 1001",
                    after = last - 100
                ),
            ),
            (
                "pull: a page's contacts",
                format!("SELECT * FROM contacts WHERE organisation_id = '{org}' AND id IN ({thousand})"),
            ),
            (
                "pull: a page's kit lines",
                format!("SELECT * FROM kit_lines WHERE contact_id IN ({thousand}) ORDER BY contact_id, position"),
            ),
        ];
        let mut plans = Vec::new();
        for (name, sql) in statements {
            let explain = format!("EXPLAIN (COSTS OFF) {sql}");
            let lines = sqlx::query(sqlx::AssertSqlSafe(explain)).fetch_all(&self.pool).await?;
            let plan: Vec<String> = lines.iter().map(|r| r.get::<String, _>(0)).collect();
            plans.push((name, plan.join("\n")));
        }
        Ok(Plans(plans))
    }
}
