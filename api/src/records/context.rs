//! What a batch of mutations is checked against: who is writing, and the
//! organisation's sites, staff, reference data and the people and referrals
//! the batch refers to, loaded once per batch rather than once per field.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use outpost_entity::{person, referral, site, user};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use crate::{domain::Role, records::reference::catalogue::Catalogue};

/// Who is writing, as the sync engine needs to know it.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The organisation every record belongs to.
    pub organisation_id: Uuid,
    /// The staff member, when a person is writing.
    pub user_id: Option<Uuid>,
    /// The device the change was recorded on.
    pub device_id: Option<Uuid>,
    /// The integrator's key, when one is writing.
    pub api_key_id: Option<Uuid>,
    /// The staff member's role (`None` for integrators).
    pub role: Option<Role>,
    /// The sites the staff member works at.
    pub site_ids: Vec<Uuid>,
}

impl Actor {
    /// Managers, admins and integrators see and may correct every record of
    /// the organisation; workers and viewers see their sites and their own.
    pub fn sees_everything(&self) -> bool {
        !matches!(self.role, Some(Role::Worker | Role::Viewer))
    }

    /// Whether identifiers (NHS number, CHAIN id) may be shown: managers and
    /// admins only, under the stricter access the domain asks for.
    pub fn sees_identifiers(&self) -> bool {
        matches!(self.role, Some(Role::Admin | Role::Manager))
    }

    /// Whether the actor may erase a person: managers and admins, who
    /// answer for it; never workers, viewers or an integrator's key (which
    /// may correct records it can write, but not erase people).
    pub fn may_erase_people(&self) -> bool {
        matches!(self.role, Some(Role::Admin | Role::Manager))
    }

    /// Whether the actor may delete or resolve what `owner` recorded.
    pub fn may_correct(&self, owner: Option<Uuid>) -> bool {
        self.sees_everything() || (owner.is_some() && owner == self.user_id)
    }

    /// The site rule for a record at `site` recorded by `owner`: workers and
    /// viewers see (and so may change) their sites' records, their own, and
    /// site-less ones; everyone else sees every record of the organisation.
    /// `site_condition` is the same rule as a query filter; reads, REST
    /// writes and pushes all go through one of the two.
    pub fn may_see(&self, site: Option<Uuid>, owner: Option<Uuid>) -> bool {
        self.sees_everything()
            || site.is_none_or(|s| self.site_ids.contains(&s))
            || (owner.is_some() && owner == self.user_id)
    }

    /// `may_see` as a filter on a table's site and recorder columns.
    pub fn site_condition<C: ColumnTrait>(&self, site: C, owner: C) -> Condition {
        if self.sees_everything() {
            return Condition::all();
        }
        let mut any =
            Condition::any().add(site.is_null()).add(site.is_in(self.site_ids.iter().copied()));
        if let Some(me) = self.user_id {
            any = any.add(owner.eq(me));
        }
        any
    }
}

/// The facts one batch is validated against.
pub struct BatchContext {
    /// Who is writing.
    pub actor: Actor,
    /// The organisation's reference data.
    pub catalogue: Catalogue,
    /// Active sites of the organisation.
    pub sites: HashSet<Uuid>,
    /// Active staff of the organisation.
    pub users: HashSet<Uuid>,
    /// People that exist (not deleted), including those created earlier in
    /// this batch.
    pub persons: HashSet<Uuid>,
    /// Referrals that exist and the writer may see, including those created
    /// earlier in this batch.
    pub referrals: HashSet<Uuid>,
    /// The server's time for this batch.
    pub now: DateTime<Utc>,
}

impl BatchContext {
    /// Loads what `field_sets` (the batch's `fields` objects) refer to.
    pub async fn load<'a, C: ConnectionTrait>(
        db: &C,
        actor: Actor,
        field_sets: impl Iterator<Item = &'a serde_json::Map<String, Value>>,
    ) -> Result<Self, DbErr> {
        let org = actor.organisation_id;
        let mut person_ids = HashSet::new();
        let mut referral_ids = HashSet::new();
        for fields in field_sets {
            collect_ids(fields.get("person_id"), &mut person_ids);
            collect_ids(fields.get("referral_id"), &mut referral_ids);
            if let Some(Value::Array(people)) = fields.get("people") {
                for p in people {
                    collect_ids(p.get("person_id"), &mut person_ids);
                }
            }
        }
        let sites = site::Entity::find()
            .select_only()
            .column(site::Column::Id)
            .filter(site::Column::OrganisationId.eq(org))
            .filter(site::Column::ArchivedAt.is_null())
            .into_tuple::<Uuid>()
            .all(db)
            .await?;
        let users = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::OrganisationId.eq(org))
            .into_tuple::<Uuid>()
            .all(db)
            .await?;
        let persons = existing(db, person_ids, |ids| {
            person::Entity::find()
                .select_only()
                .column(person::Column::Id)
                .filter(person::Column::OrganisationId.eq(org))
                .filter(person::Column::DeletedAt.is_null())
                .filter(person::Column::Id.is_in(ids))
                .into_tuple::<Uuid>()
        })
        .await?;
        // Only the referrals the writer may see: a step on any other is
        // refused as an unknown reference, as REST answers 404.
        let scope = actor.site_condition(referral::Column::SiteId, referral::Column::RecordedBy);
        let referrals = existing(db, referral_ids, |ids| {
            referral::Entity::find()
                .select_only()
                .column(referral::Column::Id)
                .filter(referral::Column::OrganisationId.eq(org))
                .filter(referral::Column::DeletedAt.is_null())
                .filter(scope.clone())
                .filter(referral::Column::Id.is_in(ids))
                .into_tuple::<Uuid>()
        })
        .await?;
        Ok(Self {
            catalogue: Catalogue::load(db, org).await?,
            actor,
            sites: sites.into_iter().collect(),
            users: users.into_iter().collect(),
            persons,
            referrals,
            now: Utc::now(),
        })
    }
}

fn collect_ids(value: Option<&Value>, into: &mut HashSet<Uuid>) {
    if let Some(id) = value.and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()) {
        into.insert(id);
    }
}

async fn existing<C, F>(db: &C, ids: HashSet<Uuid>, query: F) -> Result<HashSet<Uuid>, DbErr>
where
    C: ConnectionTrait,
    F: Fn(Vec<Uuid>) -> sea_orm::Selector<sea_orm::SelectGetableTuple<Uuid>>,
{
    let mut found = HashSet::new();
    let ids: Vec<Uuid> = ids.into_iter().collect();
    for chunk in ids.chunks(500) {
        found.extend(query(chunk.to_vec()).all(db).await?);
    }
    Ok(found)
}

impl Actor {
    /// The actor behind a checked caller: a staff member with their role and
    /// sites, or an integrator.
    pub async fn of<C: ConnectionTrait>(
        db: &C,
        caller: &crate::caller::Caller,
    ) -> Result<Self, DbErr> {
        use crate::caller::Caller;
        use outpost_entity::user_site;
        Ok(match caller {
            Caller::User(u) => Self {
                organisation_id: u.organisation_id,
                user_id: Some(u.user_id),
                device_id: u.device_id,
                api_key_id: None,
                role: Some(u.role),
                site_ids: user_site::Entity::find()
                    .select_only()
                    .column(user_site::Column::SiteId)
                    .filter(user_site::Column::UserId.eq(u.user_id))
                    .into_tuple::<Uuid>()
                    .all(db)
                    .await?,
            },
            Caller::Integrator(i) => Self {
                organisation_id: i.organisation_id,
                user_id: None,
                device_id: None,
                api_key_id: Some(i.api_key_id),
                role: None,
                site_ids: Vec::new(),
            },
        })
    }
}
