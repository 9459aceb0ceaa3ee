//! The HTTP surface: one file per resource, each an `#[OpenApi]` impl that
//! checks permissions and calls a service.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod client_ready;
pub mod connection;
pub mod contacts;
pub mod devices;
pub mod incidents;
pub mod input;
pub mod kit_items;
pub mod locate;
pub mod me;
pub mod middleware;
pub mod organisation;
pub mod partner_services;
pub mod persons;
pub mod records;
pub mod referrals;
pub mod security;
pub mod sites;
pub mod strict;
pub mod substances;
pub mod sync;
pub mod system;
pub mod users;

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
    /// The caller's organisation.
    Organisation,
    /// Sites: day centres, hostels, shelters, teams, vans.
    Sites,
    /// Reference data: kit catalogue, substances, partner services.
    Reference,
    /// Staff accounts.
    Users,
    /// Registered devices.
    Devices,
    /// Integrators' API keys.
    ApiKeys,
    /// Field records: people, contacts, incidents, referrals.
    Records,
    /// Sync: push, pull, conflicts.
    Sync,
    /// The audit trail.
    Audit,
    /// Health and readiness.
    System,
}

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
    sync::SyncApi,
);

/// The audit trail and health.
pub type OperationsApis = (audit::AuditApi, system::SystemApi);

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
    let mut spec = api_service().spec();
    spec.push('\n');
    spec
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
    let docs = service.swagger_ui();
    let spec = service.spec_endpoint();
    let routes = Route::new()
        .nest("/", service)
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .at("/metrics", get(metrics));
    routes
        .with(CatchPanic::new().with_handler(|_| problem_response(Problem::internal())))
        .data(state.clone())
        .with(middleware::Observe::new(state))
}
