//! Stock: locations (a site's store, vans, bags), the ledger's entries and
//! on-hand per location and item. Entries written here go through the sync
//! engine, with the rules a device's push has.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{ApiTags, records, security::Credentials};
use crate::{
    caller::RequestMeta,
    domain::Permission,
    error::{ApiError, ApiResult},
    records::{
        reference::{stock_location::StockLocationView, stock_threshold::StockThresholdView},
        stock_entry::{CreateStockEntry, StockEntryView},
        vocab::{StockEntryKind, StockLocationKind},
    },
    service::stock::{
        self as service, EntryFilter,
        levels::{self, LevelFilter},
        locations::{self, LocationChanges, NewLocation},
        thresholds::{self, ThresholdFilter},
    },
    state::AppState,
    sync::EntityKind,
    text::Text,
};

/// A stock location to create (managers and admins).
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct CreateStockLocation {
    /// The active site it belongs to: its staff see it and its stock.
    pub site_id: Uuid,
    /// A store, a van or a bag.
    pub kind: StockLocationKind,
    /// Its name (e.g. "Van 2", "Sam's bag").
    pub name: Text<200>,
}

/// Changes to a stock location; absent fields stay as they are. Its site
/// cannot change: its ledger stays where it was recorded.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct UpdateStockLocation {
    /// A new name (`null`: unchanged).
    #[oai(nullable)]
    pub name: Option<Text<200>>,
    /// A new kind (`null`: unchanged).
    #[oai(nullable)]
    pub kind: Option<StockLocationKind>,
    /// `true` archives it (devices stop offering it; its ledger and stock
    /// stay), `false` brings it back (`null`: unchanged).
    #[oai(nullable)]
    pub archived: Option<bool>,
}

/// The stock locations you see.
#[derive(Object)]
pub struct StockLocationList {
    /// By site, then name.
    pub items: Vec<StockLocationView>,
}

/// A stock location, with its version as `ETag`.
#[derive(ApiResponse)]
pub enum StockLocationFound {
    /// The location.
    #[oai(status = 200)]
    Ok(
        Json<StockLocationView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Answer of `POST /v1/stock/locations`.
#[derive(ApiResponse)]
pub enum StockLocationCreated {
    /// The new location.
    #[oai(status = 201)]
    Created(
        Json<StockLocationView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// A page of ledger entries, oldest first.
#[derive(Object)]
pub struct StockEntryPage {
    /// The entries.
    pub items: Vec<StockEntryView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<Uuid>,
}

/// A ledger entry, with its version as `ETag`.
#[derive(ApiResponse)]
pub enum StockEntryFound {
    /// The entry.
    #[oai(status = 200)]
    Ok(
        Json<StockEntryView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Answer of `POST /v1/stock/entries`.
#[derive(ApiResponse)]
pub enum StockEntryCreated {
    /// The new entry.
    #[oai(status = 201)]
    Created(
        Json<StockEntryView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
    /// An entry with this id exists already (a retried POST).
    #[oai(status = 200)]
    Existing(
        Json<StockEntryView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// On-hand of one item at one location.
#[derive(Object)]
pub struct StockLevelView {
    /// The location.
    pub location_id: Uuid,
    /// Its site.
    pub site_id: Uuid,
    /// The kit item's code (packs are stocked as their components).
    pub item_code: String,
    /// The ledger's sum; negative when more was handed out than the ledger
    /// knew had arrived.
    pub on_hand: i64,
    /// When a movement last changed it.
    pub updated_at: DateTime<Utc>,
}

/// A page of on-hand figures, by location then item.
#[derive(Object)]
pub struct StockLevelPage {
    /// The figures.
    pub items: Vec<StockLevelView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<String>,
}

/// A low-stock threshold to set (managers and admins).
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct CreateStockThreshold {
    /// The location (an active one).
    pub location_id: Uuid,
    /// The kit item (an active one, not a pack: packs are stocked as their
    /// components).
    pub item_code: Text<48>,
    /// The least the location should hold, 0 to 1,000,000.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000")))]
    pub minimum: i64,
}

/// A new minimum for a threshold.
#[derive(Object)]
#[oai(deny_unknown_fields)]
pub struct UpdateStockThreshold {
    /// The least the location should hold, 0 to 1,000,000.
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000")))]
    pub minimum: i64,
}

/// The thresholds you see.
#[derive(Object)]
pub struct StockThresholdList {
    /// By location, then item.
    pub items: Vec<StockThresholdView>,
}

/// A threshold, with its version as `ETag`.
#[derive(ApiResponse)]
pub enum StockThresholdFound {
    /// The threshold.
    #[oai(status = 200)]
    Ok(
        Json<StockThresholdView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Answer of `POST /v1/stock/thresholds`.
#[derive(ApiResponse)]
pub enum StockThresholdCreated {
    /// The new threshold.
    #[oai(status = 201)]
    Created(
        Json<StockThresholdView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Stock locations, the ledger and on-hand.
#[derive(Default)]
pub struct StockApi;

#[OpenApi(tag = "ApiTags::Stock")]
impl StockApi {
    /// List the stock locations of your sites (every site's for managers
    /// and admins), by site then name.
    #[oai(path = "/v1/stock/locations", method = "get", operation_id = "list_stock_locations")]
    async fn list_locations(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Only this site's locations.
        site_id: Query<Option<Uuid>>,
        /// Include archived locations.
        #[oai(default)]
        include_archived: Query<bool>,
    ) -> ApiResult<Json<StockLocationList>> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let rows = locations::list(&state.reads, &actor, site_id.0, include_archived.0).await?;
        Ok(Json(StockLocationList { items: rows.into_iter().map(Into::into).collect() }))
    }

    /// Get one stock location.
    #[oai(path = "/v1/stock/locations/:id", method = "get", operation_id = "get_stock_location")]
    async fn get_location(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The location.
        id: Path<Uuid>,
    ) -> ApiResult<StockLocationFound> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let location = locations::get(&state.reads, &actor, id.0).await?;
        let etag = records::etag(location.version);
        Ok(StockLocationFound::Ok(Json(location.into()), etag))
    }

    /// Create a stock location at a site (managers and admins). Its
    /// site's staff receive it on their next pull.
    #[oai(path = "/v1/stock/locations", method = "post", operation_id = "create_stock_location")]
    async fn create_location(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        body: Json<CreateStockLocation>,
    ) -> ApiResult<StockLocationCreated> {
        let (caller, actor) =
            records::caller_and_actor(&state, &auth, Permission::ManageStock).await?;
        let body = body.0;
        let new = NewLocation { site_id: body.site_id, kind: body.kind, name: body.name.into() };
        let location = locations::create(&state, &caller, &meta, &actor, new).await?;
        let etag = records::etag(location.version);
        Ok(StockLocationCreated::Created(Json(location.into()), etag))
    }

    /// Edit or archive a stock location (managers and admins). `If-Match`
    /// must carry its current `ETag`; a stale one answers 412
    /// `version_mismatch` and changes nothing.
    #[oai(
        path = "/v1/stock/locations/:id",
        method = "patch",
        operation_id = "update_stock_location"
    )]
    async fn update_location(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        /// The location.
        id: Path<Uuid>,
        /// Required: the `ETag` the change was made from, the version quoted
        /// (`"3"`; a bare `3` is taken too).
        #[oai(
            name = "If-Match",
            validator(pattern = r#"^("[1-9][0-9]{0,17}"|[1-9][0-9]{0,17})$"#)
        )]
        if_match: Header<String>,
        body: Json<UpdateStockLocation>,
    ) -> ApiResult<StockLocationFound> {
        let (caller, actor) =
            records::caller_and_actor(&state, &auth, Permission::ManageStock).await?;
        let base = records::if_match(&if_match.0)?;
        let body = body.0;
        let changes = LocationChanges {
            name: body.name.map(Into::into),
            kind: body.kind,
            archived: body.archived,
        };
        let location =
            locations::update(&state, &caller, &meta, &actor, id.0, base, changes).await?;
        let etag = records::etag(location.version);
        Ok(StockLocationFound::Ok(Json(location.into()), etag))
    }

    /// List ledger entries in your scope, oldest first: the entries at your
    /// sites' locations and those you recorded.
    #[oai(path = "/v1/stock/entries", method = "get", operation_id = "list_stock_entries")]
    #[allow(clippy::too_many_arguments)]
    async fn list_entries(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Only entries at this location (either end of a transfer).
        location_id: Query<Option<Uuid>>,
        /// Only entries of this item.
        #[oai(validator(max_length = 48))]
        item_code: Query<Option<String>>,
        /// Only entries of this kind.
        kind: Query<Option<StockEntryKind>>,
        /// Only entries that occurred at or after this time.
        occurred_from: Query<Option<DateTime<Utc>>>,
        /// Only entries that occurred before this time.
        occurred_to: Query<Option<DateTime<Utc>>>,
        /// The previous page's `next_after` (the last id it showed).
        after: Query<Option<Uuid>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<StockEntryPage>> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let filter = EntryFilter {
            location_id: location_id.0,
            item_code: item_code.0,
            kind: kind.0,
            occurred_from: records::time_filter(occurred_from.0),
            occurred_to: records::time_filter(occurred_to.0),
        };
        let limit = records::page_limit(limit.0);
        let page = service::list_entries(&state.reads, &actor, filter, after.0, limit).await?;
        Ok(Json(StockEntryPage { items: page.items, next_after: page.next_after }))
    }

    /// Get one ledger entry.
    #[oai(path = "/v1/stock/entries/:id", method = "get", operation_id = "get_stock_entry")]
    async fn get_entry(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The entry.
        id: Path<Uuid>,
    ) -> ApiResult<StockEntryFound> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let entry = service::get_entry(&state.reads, &actor, id.0).await?;
        let etag = records::etag(entry.version);
        Ok(StockEntryFound::Ok(Json(entry), etag))
    }

    /// Record a ledger entry, with a client-generated id: workers record
    /// receipts at their sites' locations; transfers, stocktakes and
    /// write-offs are for managers and admins (403 `forbidden`). A pack
    /// moves its components. Posting the same id again answers the stored
    /// entry (200). Entries are never edited: record a correcting one.
    #[oai(path = "/v1/stock/entries", method = "post", operation_id = "create_stock_entry")]
    async fn create_entry(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        body: Json<CreateStockEntry>,
    ) -> ApiResult<StockEntryCreated> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        let id = body.0.id;
        let fields = records::fields_of(&body.0);
        let written = records::create(&state, &actor, EntityKind::StockEntry, id, fields).await?;
        let existed = written.existed();
        let entry = service::get_entry(written.txn(), &actor, id).await;
        let entry = written.answer(entry, records::id_taken).await?;
        let etag = records::etag(entry.version);
        Ok(if existed {
            StockEntryCreated::Existing(Json(entry), etag)
        } else {
            StockEntryCreated::Created(Json(entry), etag)
        })
    }

    /// List low-stock thresholds at your sites' locations (every site's for
    /// managers and admins), with on-hand: `below=true` lists what needs
    /// restocking before the next round.
    #[oai(path = "/v1/stock/thresholds", method = "get", operation_id = "list_stock_thresholds")]
    async fn list_thresholds(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Only this site's locations.
        site_id: Query<Option<Uuid>>,
        /// Only this location.
        location_id: Query<Option<Uuid>>,
        /// Only those under (`true`) or not under (`false`) their minimum.
        below: Query<Option<bool>>,
    ) -> ApiResult<Json<StockThresholdList>> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let filter =
            ThresholdFilter { site_id: site_id.0, location_id: location_id.0, below: below.0 };
        let items = thresholds::list(&state.reads, &actor, filter).await?;
        Ok(Json(StockThresholdList { items }))
    }

    /// Get one low-stock threshold.
    #[oai(path = "/v1/stock/thresholds/:id", method = "get", operation_id = "get_stock_threshold")]
    async fn get_threshold(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The threshold.
        id: Path<Uuid>,
    ) -> ApiResult<StockThresholdFound> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let threshold = thresholds::get(&state.reads, &actor, id.0).await?;
        let etag = records::etag(threshold.version);
        Ok(StockThresholdFound::Ok(Json(threshold), etag))
    }

    /// Set a low-stock threshold for an item at a location (managers and
    /// admins). The location's site's devices receive it, and again each
    /// time on-hand crosses it. One per location and item: a second
    /// answers 409 `threshold_exists`.
    #[oai(path = "/v1/stock/thresholds", method = "post", operation_id = "create_stock_threshold")]
    async fn create_threshold(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        body: Json<CreateStockThreshold>,
    ) -> ApiResult<StockThresholdCreated> {
        let (caller, actor) =
            records::caller_and_actor(&state, &auth, Permission::ManageStock).await?;
        let body = body.0;
        let threshold = thresholds::create(
            &state,
            &caller,
            &meta,
            &actor,
            body.location_id,
            body.item_code.into(),
            body.minimum,
        )
        .await?;
        let etag = records::etag(threshold.version);
        Ok(StockThresholdCreated::Created(Json(threshold), etag))
    }

    /// Change a threshold's minimum (managers and admins). `If-Match` must
    /// carry its current `ETag`; a stale one answers 412
    /// `version_mismatch`.
    #[oai(
        path = "/v1/stock/thresholds/:id",
        method = "patch",
        operation_id = "update_stock_threshold"
    )]
    async fn update_threshold(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        /// The threshold.
        id: Path<Uuid>,
        /// Required: the `ETag` the change was made from, the version quoted
        /// (`"3"`; a bare `3` is taken too).
        #[oai(
            name = "If-Match",
            validator(pattern = r#"^("[1-9][0-9]{0,17}"|[1-9][0-9]{0,17})$"#)
        )]
        if_match: Header<String>,
        body: Json<UpdateStockThreshold>,
    ) -> ApiResult<StockThresholdFound> {
        let (caller, actor) =
            records::caller_and_actor(&state, &auth, Permission::ManageStock).await?;
        let base = records::if_match(&if_match.0)?;
        let threshold =
            thresholds::update(&state, &caller, &meta, &actor, id.0, base, body.0.minimum).await?;
        let etag = records::etag(threshold.version);
        Ok(StockThresholdFound::Ok(Json(threshold), etag))
    }

    /// On-hand per location and item at your sites' locations (every
    /// site's for managers and admins), by location then item: the sum of
    /// the ledger, exact whatever order phones synced in.
    #[oai(path = "/v1/stock/levels", method = "get", operation_id = "list_stock_levels")]
    #[allow(clippy::too_many_arguments)]
    async fn list_levels(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Only this site's locations.
        site_id: Query<Option<Uuid>>,
        /// Only this location.
        location_id: Query<Option<Uuid>>,
        /// Only this item.
        #[oai(validator(max_length = 48))]
        item_code: Query<Option<String>>,
        /// The previous page's `next_after`.
        #[oai(validator(max_length = 100))]
        after: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<StockLevelPage>> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let after = match after.0 {
            None => None,
            Some(text) => Some(level_cursor(&text).ok_or_else(|| {
                ApiError::invalid("after", "not a next_after this server gave".to_owned())
            })?),
        };
        let filter =
            LevelFilter { site_id: site_id.0, location_id: location_id.0, item_code: item_code.0 };
        let limit = records::page_limit(limit.0);
        let (rows, next) = levels::list(&state.reads, &actor, filter, after, limit).await?;
        Ok(Json(StockLevelPage {
            items: rows
                .into_iter()
                .map(|l| StockLevelView {
                    location_id: l.location_id,
                    site_id: l.site_id,
                    item_code: l.item_code,
                    on_hand: l.on_hand,
                    updated_at: l.updated_at,
                })
                .collect(),
            next_after: next.map(|(location, item)| format!("{location}/{item}")),
        }))
    }
}

/// `location/item`, as `next_after` writes it.
fn level_cursor(text: &str) -> Option<(Uuid, String)> {
    let (location, item) = text.split_once('/')?;
    Some((Uuid::parse_str(location).ok()?, item.to_owned()))
}
