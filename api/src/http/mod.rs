//! The HTTP surface: one file per resource, each an `#[OpenApi]` impl that
//! checks permissions and calls a service.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod client_ready;
pub mod connection;
pub mod consents;
pub mod contacts;
pub mod declared;
pub mod devices;
pub mod examples;
pub mod inbox;
pub mod incidents;
pub mod input;
pub mod json_body;
pub mod kit_items;
pub mod locate;
pub mod me;
pub mod middleware;
pub mod organisation;
pub mod partner_services;
pub mod persons;
pub mod records;
pub mod referral_oversight;
pub mod referrals;
pub mod security;
pub mod sites;
pub mod stock;
pub mod substances;
pub mod sync;
pub mod sync_wire;
pub mod system;
pub mod users;
pub mod webhooks;

use poem::{EndpointExt, Route, get, handler, middleware::CatchPanic, web::Data};
use poem_openapi::{OpenApiService, Tags};

use crate::{
    error::{Problem, problem_response},
    state::AppState,
};

/// The tags that group operations in the spec.
#[derive(Tags)]
pub enum ApiTags {
    /// Sign in and out.
    Auth,
    /// Who the caller is.
    Me,
    /// Sync: push, pull, conflicts.
    Sync,
    /// Field records: people, contacts, incidents, referrals.
    Records,
    /// Referrals beyond the record: overdue ones, flagged steps, deadlines,
    /// the partner inbox and the links that feed it.
    Referrals,
    /// Reference data: kit catalogue, substances, partner services.
    Reference,
    /// Stock: locations, the ledger, on-hand.
    Stock,
    /// Webhooks: referral events for partners not on Outpost.
    Webhooks,
    /// Sites: day centres, hostels, shelters, teams, vans.
    Sites,
    /// Staff accounts.
    Users,
    /// Registered devices.
    Devices,
    /// Integrators' API keys.
    ApiKeys,
    /// The caller's organisation.
    Organisation,
    /// The audit trail.
    Audit,
    /// Health and readiness.
    System,
}

/// The tags in the order a newcomer needs them (the docs page shows them
/// so): signing in and syncing first, administration last. poem-openapi
/// sorts them by name; `spec_json` puts them in this order.
const TAG_ORDER: [&str; 15] = [
    "Auth",
    "Me",
    "Sync",
    "Records",
    "Referrals",
    "Stock",
    "Webhooks",
    "Reference",
    "Sites",
    "Users",
    "Devices",
    "ApiKeys",
    "Organisation",
    "Audit",
    "System",
];

/// Every API of the server, in spec order: the directory and staff, then
/// the field records and sync, then operations. (Nested because the
/// framework's tuple impls stop at twelve.)
pub type OutpostApi = (DirectoryApis, RecordApis, OperationsApis);

/// Sign-in, the organisation, its sites, reference data and staff.
pub type DirectoryApis = (
    auth::AuthApi,
    me::MeApi,
    organisation::OrganisationApi,
    sites::SitesApi,
    kit_items::KitItemsApi,
    substances::SubstancesApi,
    partner_services::PartnerServicesApi,
    users::UsersApi,
    devices::DevicesApi,
    api_keys::ApiKeysApi,
);

/// Field records and sync.
pub type RecordApis = (
    persons::PersonsApi,
    contacts::ContactsApi,
    incidents::IncidentsApi,
    referrals::ReferralsApi,
    referral_oversight::ReferralOversightApi,
    consents::ConsentsApi,
    inbox::InboxApi,
    stock::StockApi,
    sync::SyncApi,
);

/// The audit trail and health.
pub type OperationsApis = (audit::AuditApi, system::SystemApi, webhooks::WebhooksApi);

/// The OpenAPI service (the spec and the routes). The spec is corrected for
/// client generators (see [`client_ready`]).
pub fn api_service() -> OpenApiService<client_ready::ClientReady<OutpostApi>, ()> {
    OpenApiService::new(
        client_ready::ClientReady(OutpostApi::default()),
        "Outpost",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Outpost: records for outreach teams in day centres, hostels, night shelters and on \
         the street, captured offline on phones and synced later. Every error is \
         `application/problem+json` with a stable `code`.",
    )
}

/// The spec as committed under `openapi/openapi.json`.
pub fn spec_json() -> String {
    let spec = client_ready::write_closed(&api_service().spec());
    let mut spec = tags_in_newcomer_order(&spec).unwrap_or(spec);
    spec.push('\n');
    spec
}

/// One entry of the spec's top-level `tags`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Tag {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
}

/// `spec` with its top-level `tags` in `TAG_ORDER`, the rest as written.
fn tags_in_newcomer_order(spec: &str) -> Option<String> {
    let start = spec.find("\n  \"tags\": [")? + 1;
    let end = start + spec[start..].find("\n  ],\n")? + "\n  ]".len();
    let block = &spec[start..end];
    let mut tags: Vec<Tag> = serde_json::from_str(&block[block.find('[')?..]).ok()?;
    tags.sort_by_key(|t| TAG_ORDER.iter().position(|n| *n == t.name).unwrap_or(usize::MAX));
    let array = serde_json::to_string_pretty(&tags).ok()?.replace('\n', "\n  ");
    Some(format!("{}  \"tags\": {array}{}", &spec[..start], &spec[end..]))
}

/// The spec, parsed once: what the middleware consults to name the field
/// of a parse failure and the methods of a path.
pub fn spec_value() -> &'static serde_json::Value {
    static SPEC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(&spec_json()).unwrap_or_default())
}

#[handler]
fn metrics(state: Data<&AppState>) -> String {
    // Read at scrape time, so the gauge is current whoever polls /readyz.
    let redis_up = state.cache.health() != crate::cache::CacheHealth::Degraded;
    state.metrics.redis_up.set(i64::from(redis_up));
    state.metrics.render()
}

/// The whole application: API, spec, docs page, metrics, middleware.
pub fn app(state: AppState) -> impl poem::Endpoint<Output = poem::Response> {
    let service = api_service();
    // The docs page and /openapi.json serve the committed spec (tags in
    // newcomer order), not the framework's own rendering of it.
    let spec = spec_json();
    let docs = service.swagger_ui_html().replace(&service.spec(), spec.trim_end());
    let routes = Route::new()
        .nest("/", service)
        .at(
            "/openapi.json",
            poem::endpoint::make_sync(move |_| {
                poem::Response::builder().content_type("application/json").body(spec.clone())
            }),
        )
        .nest(
            "/docs",
            Route::new().at("/", poem::endpoint::make_sync(move |_| poem::web::Html(docs.clone()))),
        )
        .at("/metrics", get(metrics));
    routes
        .with(CatchPanic::new().with_handler(|_| problem_response(Problem::internal())))
        .data(state.clone())
        .with(middleware::Observe::new(state))
}
