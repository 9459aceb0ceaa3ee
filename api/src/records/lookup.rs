//! Rows by a list of keys, planned the same whatever the table's size and
//! whether Postgres has statistics on it.
//!
//! Without statistics (a new database, autovacuum off or behind after a
//! bulk load) Postgres guesses that `key IN (1,000 ids)` matches most of a
//! table, and scans it, or the whole organisation through another index;
//! the sync benchmark's plans showed both for a pull page's contacts and
//! kit lines and for a push's mutation log check. Here each key is one
//! index probe, however many rows there are: the ids go in as one array,
//! and a lateral subquery looks each up on its own. `OFFSET 0` fences the
//! subquery, so the planner cannot flatten it into a join that it would
//! then hash over a full scan. One statement text for any number of ids,
//! so each connection prepares it once.
//!
//! SQLite plans `IN` through the index without statistics, so it keeps the
//! plain query, in chunks under its bind limit.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IdenStatic, Order, QueryFilter,
    QueryOrder, QuerySelect, Statement, Value,
};
use uuid::Uuid;

/// Ids per statement on SQLite (its bind limit is 32,766).
const SQLITE_CHUNK: usize = 500;

/// Which rows of `E` to read: those whose `key` is among the ids given,
/// within `organisation_id` when set, each key's rows in `order` when set.
pub struct ByKeys<E: EntityTrait> {
    key: E::Column,
    /// The organisation's column and id, and whether the probe's index
    /// leads with it.
    organisation: Option<(E::Column, Uuid, bool)>,
    order: Option<E::Column>,
    columns: Option<Vec<E::Column>>,
}

impl<E: EntityTrait> ByKeys<E> {
    /// Rows whose `key` is one of the ids.
    pub fn new(key: E::Column) -> Self {
        Self { key, organisation: None, order: None, columns: None }
    }

    /// Only rows of this organisation (its column and id), checked on
    /// each row found by its key. Not part of the probe: given an index
    /// on the organisation and something else, Postgres without
    /// statistics would walk the organisation's rows for every key. (On a
    /// database sharded by organisation, docs/scaling.md, the probe needs
    /// the organisation: these lookups become `keyed_within_organisation`
    /// once record keys lead with it.)
    pub fn in_organisation(mut self, column: E::Column, organisation_id: Uuid) -> Self {
        self.organisation = Some((column, organisation_id, false));
        self
    }

    /// Only rows of this organisation, where the key is unique within an
    /// organisation and its index is (organisation, key): the probe
    /// takes both.
    pub fn keyed_within_organisation(mut self, column: E::Column, organisation_id: Uuid) -> Self {
        self.organisation = Some((column, organisation_id, true));
        self
    }

    /// Each key's rows in ascending `column` (a contact's kit lines by
    /// position). For [`ByKeys::models`], or with `column` among the
    /// selected [`ByKeys::columns`].
    pub fn ordered_by(mut self, column: E::Column) -> Self {
        self.order = Some(column);
        self
    }

    /// Only these columns (for [`ByKeys::tuples`]).
    pub fn columns(mut self, columns: Vec<E::Column>) -> Self {
        self.columns = Some(columns);
        self
    }

    /// The whole rows.
    pub async fn models<C: ConnectionTrait>(
        &self,
        db: &C,
        ids: &[Uuid],
    ) -> Result<Vec<E::Model>, DbErr> {
        self.read(db, &unique(ids)).await
    }

    /// The selected [`ByKeys::columns`], as tuples.
    pub async fn tuples<T: sea_orm::TryGetableMany, C: ConnectionTrait>(
        &self,
        db: &C,
        ids: &[Uuid],
    ) -> Result<Vec<T>, DbErr> {
        let ids = &unique(ids);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        match db.get_database_backend() {
            DbBackend::Postgres => {
                let statement = self.postgres(ids);
                let names: Vec<String> =
                    self.selected().iter().map(|c| c.as_str().to_owned()).collect();
                let rows = db.query_all_raw(statement).await?;
                rows.iter()
                    .map(|row| T::try_get_many(row, "", &names).map_err(DbErr::from))
                    .collect()
            }
            _ => {
                let mut out = Vec::new();
                for chunk in ids.chunks(SQLITE_CHUNK) {
                    out.extend(self.sqlite(chunk).into_tuple::<T>().all(db).await?);
                }
                Ok(out)
            }
        }
    }

    async fn read<C: ConnectionTrait>(&self, db: &C, ids: &[Uuid]) -> Result<Vec<E::Model>, DbErr> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        match db.get_database_backend() {
            DbBackend::Postgres => E::find().from_raw_sql(self.postgres(ids)).all(db).await,
            _ => {
                let mut out = Vec::new();
                for chunk in ids.chunks(SQLITE_CHUNK) {
                    out.extend(self.sqlite(chunk).all(db).await?);
                }
                Ok(out)
            }
        }
    }

    fn selected(&self) -> Vec<E::Column> {
        self.columns.clone().unwrap_or_default()
    }

    /// The plain query for SQLite: the selected columns, or all.
    fn sqlite(&self, ids: &[Uuid]) -> sea_orm::Select<E> {
        let query = match &self.columns {
            Some(columns) => columns.iter().fold(E::find().select_only(), |q, c| q.column(*c)),
            None => E::find(),
        };
        let mut query = query.filter(self.key.is_in(ids.iter().copied()));
        if let Some((column, organisation_id, _)) = self.organisation {
            query = query.filter(column.eq(organisation_id));
        }
        if let Some(order) = self.order {
            query = query.order_by(self.key, Order::Asc).order_by(order, Order::Asc);
        }
        query
    }

    /// The statement read for `ids` on `backend` (on SQLite, the first
    /// chunk's): what the plan tests and the benchmark explain.
    pub fn statement(&self, backend: DbBackend, ids: &[Uuid]) -> Statement {
        let ids = &unique(ids);
        match backend {
            DbBackend::Postgres => self.postgres(ids),
            _ => {
                let chunk = &ids[..ids.len().min(SQLITE_CHUNK)];
                sea_orm::QueryTrait::build(&self.sqlite(chunk), backend)
            }
        }
    }

    /// One probe per id for Postgres: `$1` the ids, `$2` the organisation.
    fn postgres(&self, ids: &[Uuid]) -> Statement {
        // Identifiers come from the entity's own definition, never from
        // input; quoted all the same.
        let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
        let table = quote(E::default().table_name());
        let key = quote(self.key.as_str());
        let selected = match &self.columns {
            Some(columns) => columns
                .iter()
                .map(|c| format!("t.{}", quote(c.as_str())))
                .collect::<Vec<_>>()
                .join(", "),
            None => "t.*".to_owned(),
        };
        let inner_columns = match &self.columns {
            Some(columns) => {
                let mut inner: Vec<&str> = columns.iter().map(|c| c.as_str()).collect();
                // The organisation is checked on what the probe found.
                if let Some((column, _, false)) = self.organisation
                    && !inner.contains(&column.as_str())
                {
                    inner.push(column.as_str());
                }
                inner.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
            }
            None => "*".to_owned(),
        };
        let mut values: Vec<Value> = vec![ids.to_vec().into()];
        // In the probe, or on what it found: the fence keeps the planner
        // from pushing the outer condition into the subquery.
        let (probe, found) = match self.organisation {
            Some((column, organisation_id, in_probe)) => {
                values.push(organisation_id.into());
                let condition = format!("{} = $2", quote(column.as_str()));
                if in_probe {
                    (format!(" AND {condition}"), String::new())
                } else {
                    (String::new(), format!(" WHERE t.{condition}"))
                }
            }
            None => (String::new(), String::new()),
        };
        // Ordered: by the key's place in the list, then within each key;
        // the outer sort is what SQL promises, the inner one is free.
        let (inner_order, outer_order) = match self.order {
            Some(column) => {
                let column = quote(column.as_str());
                (format!(" ORDER BY {column}"), format!(" ORDER BY k.n, t.{column}"))
            }
            None => (String::new(), String::new()),
        };
        let sql = format!(
            "SELECT {selected} FROM unnest($1::uuid[]) WITH ORDINALITY AS k(id, n) \
             CROSS JOIN LATERAL (SELECT {inner_columns} FROM {table} \
             WHERE {key} = k.id{probe}{inner_order} OFFSET 0) AS t{found}{outer_order}"
        );
        Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
    }
}

/// Each id once, in the order given: a repeated id would repeat its rows
/// (in Postgres's array, or across SQLite's chunks).
fn unique(ids: &[Uuid]) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}
