//! People: list, read (audited), create, edit with `If-Match`.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{
    ApiTags,
    records::{self, Deleted},
    security::Credentials,
};
use crate::{
    caller::RequestMeta,
    domain::Permission,
    error::{ApiError, ApiResult},
    records::person::{CreatePerson, PersonView, UpdatePerson},
    service::{
        audit::{self, AuditEntry},
        records as service,
    },
    state::AppState,
    sync::EntityKind,
};

/// A page of people, oldest first.
#[derive(Object)]
pub struct PersonPage {
    /// The people.
    pub items: Vec<PersonView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<Uuid>,
}

/// A person, with their version as `ETag`.
#[derive(ApiResponse)]
pub enum PersonFound {
    /// The person.
    #[oai(status = 200)]
    Ok(
        Json<PersonView>,
        /// The version, quoted; send it back as `If-Match` to edit.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Answer of `POST /v1/persons`.
#[derive(ApiResponse)]
pub enum PersonCreated {
    /// The new person.
    #[oai(status = 201)]
    Created(
        Json<PersonView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
    /// A person with this id exists already (a retried POST): the stored
    /// person, unchanged.
    #[oai(status = 200)]
    Existing(
        Json<PersonView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// People.
#[derive(Default)]
pub struct PersonsApi;

#[OpenApi(tag = "ApiTags::Records")]
impl PersonsApi {
    /// List people, oldest first (visible organisation-wide; NHS number and
    /// CHAIN id only for managers and admins). Session, or API key with
    /// `records:read`.
    #[oai(path = "/v1/persons", method = "get", operation_id = "list_persons")]
    async fn list(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        /// The previous page's `next_after` (the last id it showed).
        after: Query<Option<Uuid>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<PersonPage>> {
        let (caller, actor) =
            records::caller_and_actor(&state, &auth, Permission::ReadRecords).await?;
        let limit = records::page_limit(limit.0);
        let page = service::list_persons(&state.db, &actor, after.0, limit).await?;
        if !page.items.is_empty() {
            // Reads of people's records are auditable; one entry per page.
            audit::record(
                &state.db,
                &caller,
                Some(&meta.request_id),
                AuditEntry::new("person.listed", "person", Uuid::nil())
                    .with_detail(serde_json::json!({ "persons": page.items.len() })),
            )
            .await?;
        }
        Ok(Json(PersonPage { items: page.items, next_after: page.next_after }))
    }

    /// Get one person (audited as `person.read`).
    #[oai(path = "/v1/persons/:id", method = "get", operation_id = "get_person")]
    async fn get(
        &self,
        state: Data<&AppState>,
        meta: Data<&RequestMeta>,
        auth: Credentials,
        /// The person.
        id: Path<Uuid>,
    ) -> ApiResult<PersonFound> {
        let (caller, actor) =
            records::caller_and_actor(&state, &auth, Permission::ReadRecords).await?;
        let person = service::get_person(&state.db, &actor, id.0).await?;
        audit::record(
            &state.db,
            &caller,
            Some(&meta.request_id),
            AuditEntry::new("person.read", "person", id.0),
        )
        .await?;
        let etag = records::etag(person.version);
        Ok(PersonFound::Ok(Json(person), etag))
    }

    /// Record a person, with a client-generated id. Posting the same id
    /// again answers the stored person (200).
    #[oai(path = "/v1/persons", method = "post", operation_id = "create_person")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        body: Json<CreatePerson>,
    ) -> ApiResult<PersonCreated> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        let id = body.0.id;
        let fields = records::fields_of(&body.0);
        let written = records::create(&state, &actor, EntityKind::Person, id, fields).await?;
        let existed = written.existed();
        let person = service::get_person(written.txn(), &actor, id).await;
        let person = written.answer(person, records::id_taken).await?;
        let etag = records::etag(person.version);
        Ok(if existed {
            PersonCreated::Existing(Json(person), etag)
        } else {
            PersonCreated::Created(Json(person), etag)
        })
    }

    /// Edit a person. `If-Match` must carry the person's current `ETag`;
    /// a stale one answers 412 `version_mismatch` and changes nothing.
    /// Workers and viewers may not send `nhs_number` or `chain_id`, not
    /// even as `null` (403 `field_forbidden`): leave them out.
    #[oai(path = "/v1/persons/:id", method = "patch", operation_id = "update_person")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The person.
        id: Path<Uuid>,
        /// Required: the `ETag` the change was made from, the version quoted
        /// (`"3"`; a bare `3` is taken too). Without it the answer is 400
        /// `if_match_required`; any other value (`*`, a weak or a list of
        /// tags) is 400 `invalid_if_match`.
        #[oai(
            name = "If-Match",
            validator(pattern = r#"^("[1-9][0-9]{0,17}"|[1-9][0-9]{0,17})$"#)
        )]
        if_match: Header<String>,
        body: Json<UpdatePerson>,
    ) -> ApiResult<PersonFound> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        let base = records::if_match(&if_match.0)?;
        let fields = records::fields_of(&body.0);
        let written =
            records::update(&state, &actor, EntityKind::Person, id.0, base, fields).await?;
        let person = service::get_person(written.txn(), &actor, id.0).await;
        let person = written.answer(person, || ApiError::not_found("person")).await?;
        let etag = records::etag(person.version);
        Ok(PersonFound::Ok(Json(person), etag))
    }

    /// Erase a person (managers and admins): their details are cleared,
    /// their id stays so the contacts and referrals that counted them still
    /// add up, and the conflicts about them are closed with their values
    /// cleared. Erasing them again answers 204 too.
    #[oai(path = "/v1/persons/:id", method = "delete", operation_id = "delete_person")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The person.
        id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        records::delete(&state, &actor, EntityKind::Person, id.0).await?;
        Ok(Deleted::Deleted)
    }
}
