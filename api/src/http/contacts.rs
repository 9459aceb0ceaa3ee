//! Contacts: list, read, record, delete. Append-only: a mistaken contact is
//! deleted and recorded again, never edited.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{
    ApiTags,
    records::{self, Deleted},
    security::Credentials,
};
use crate::{
    domain::Permission,
    error::ApiResult,
    records::contact::{ContactView, CreateContact},
    service::records::{self as service, ContactFilter},
    state::AppState,
    sync::EntityKind,
};

/// A page of contacts, oldest first.
#[derive(Object)]
pub struct ContactPage {
    /// The contacts.
    pub items: Vec<ContactView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<Uuid>,
}

/// A contact, with its version as `ETag`.
#[derive(ApiResponse)]
pub enum ContactFound {
    /// The contact.
    #[oai(status = 200)]
    Ok(
        Json<ContactView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Answer of `POST /v1/contacts`.
#[derive(ApiResponse)]
pub enum ContactCreated {
    /// The new contact.
    #[oai(status = 201)]
    Created(
        Json<ContactView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
    /// A contact with this id exists already (a retried POST).
    #[oai(status = 200)]
    Existing(
        Json<ContactView>,
        /// The version, quoted.
        #[oai(header = "ETag")]
        String,
    ),
}

/// Contacts.
#[derive(Default)]
pub struct ContactsApi;

#[OpenApi(tag = "ApiTags::Records")]
impl ContactsApi {
    /// List contacts in your scope, oldest first: workers and viewers see
    /// their sites' contacts, their own and site-less ones; managers, admins
    /// and API keys with `records:read` see all.
    #[oai(path = "/v1/contacts", method = "get", operation_id = "list_contacts")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// Only contacts at this site.
        site_id: Query<Option<Uuid>>,
        /// Only contacts with this person.
        person_id: Query<Option<Uuid>>,
        /// Only contacts that occurred at or after this time.
        occurred_from: Query<Option<DateTime<Utc>>>,
        /// Only contacts that occurred before this time.
        occurred_to: Query<Option<DateTime<Utc>>>,
        /// The previous page's `next_after` (the last id it showed).
        after: Query<Option<Uuid>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u64>>,
    ) -> ApiResult<Json<ContactPage>> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let limit = records::page_limit(limit.0);
        let filter = ContactFilter {
            site_id: site_id.0,
            person_id: person_id.0,
            occurred_from: records::time_filter(occurred_from.0),
            occurred_to: records::time_filter(occurred_to.0),
        };
        let page = service::list_contacts(&state.db, &actor, filter, after.0, limit).await?;
        Ok(Json(ContactPage { items: page.items, next_after: page.next_after }))
    }

    /// Get one contact.
    #[oai(path = "/v1/contacts/:id", method = "get", operation_id = "get_contact")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The contact.
        id: Path<Uuid>,
    ) -> ApiResult<ContactFound> {
        let actor = records::actor(&state, &auth, Permission::ReadRecords).await?;
        let contact = service::get_contact(&state.db, &actor, id.0).await?;
        let etag = records::etag(contact.version);
        Ok(ContactFound::Ok(Json(contact), etag))
    }

    /// Record a contact and the kit handed out, with a client-generated id.
    /// Posting the same id again answers the stored contact (200).
    #[oai(path = "/v1/contacts", method = "post", operation_id = "create_contact")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        body: Json<CreateContact>,
    ) -> ApiResult<ContactCreated> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        let id = body.0.id;
        let fields = records::fields_of(&body.0);
        let written = records::create(&state, &actor, EntityKind::Contact, id, fields).await?;
        let existed = written.existed();
        let contact = service::get_contact(written.txn(), &actor, id).await;
        let contact = written.answer(contact, records::id_taken).await?;
        let etag = records::etag(contact.version);
        Ok(if existed {
            ContactCreated::Existing(Json(contact), etag)
        } else {
            ContactCreated::Created(Json(contact), etag)
        })
    }

    /// Delete a contact (its recorder, managers, admins). Deleting it again
    /// answers 204 too.
    #[oai(path = "/v1/contacts/:id", method = "delete", operation_id = "delete_contact")]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: Credentials,
        /// The contact.
        id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        let actor = records::actor(&state, &auth, Permission::WriteRecords).await?;
        records::delete(&state, &actor, EntityKind::Contact, id.0).await?;
        Ok(Deleted::Deleted)
    }
}
