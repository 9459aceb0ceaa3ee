//! What a batch of mutations is checked against: who is writing (an
//! [`Actor`]), and the
//! organisation's sites, staff, reference data and the people and referrals
//! the batch refers to, loaded once per batch rather than once per field.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use outpost_entity::{
    device, incident, person, referral, referral_share, site, stock_location, user,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use crate::{caller::Actor, records::reference::catalogue::Catalogue};

/// The facts one batch is validated against.
pub struct BatchContext {
    /// Who is writing.
    pub actor: Actor,
    /// The organisation's reference data.
    pub catalogue: Catalogue,
    /// The active sites of the organisation among those the batch names.
    pub sites: HashSet<Uuid>,
    /// The staff of the organisation among those the batch names.
    pub users: HashSet<Uuid>,
    /// People that exist (not deleted), including those created earlier in
    /// this batch.
    pub persons: HashSet<Uuid>,
    /// Referrals that exist and the writer may see, including those created
    /// earlier in this batch.
    pub referrals: HashSet<Uuid>,
    /// The writer's device's bag, when a contact of the batch hands kit out
    /// naming no location (and the bag is active and at the writer's
    /// sites: see `stock_locations`).
    pub device_location: Option<Uuid>,
    /// The incidents the batch's naloxone lines name that exist and the
    /// writer may see.
    pub incidents: HashSet<Uuid>,
    /// The active stock locations among those the batch names, with the
    /// site each belongs to.
    pub stock_locations: HashMap<Uuid, Uuid>,
    /// Referrals other organisations sent to this one that the batch names
    /// and the writer handles (its inbox), with the referrer.
    pub inbox: HashMap<Uuid, Uuid>,
    /// Whether the mutation being applied is a REST write
    /// ([`crate::sync::mutation::Mutation::online`]).
    pub online: bool,
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
        // Only the sites and staff the batch names: an organisation's
        // whole staff list read on every push grows with the organisation.
        let mut site_ids = HashSet::new();
        let mut user_ids = HashSet::new();
        let mut location_ids = HashSet::new();
        let mut incident_ids = HashSet::new();
        let mut kit_without_location = false;
        for fields in field_sets {
            collect_ids(fields.get("location_id"), &mut location_ids);
            collect_ids(fields.get("to_location_id"), &mut location_ids);
            collect_ids(fields.get("stock_location_id"), &mut location_ids);
            collect_ids(fields.get("person_id"), &mut person_ids);
            collect_ids(fields.get("referral_id"), &mut referral_ids);
            collect_ids(fields.get("site_id"), &mut site_ids);
            if let Some(Value::Array(workers)) = fields.get("worker_ids") {
                for worker in workers {
                    collect_ids(Some(worker), &mut user_ids);
                }
            }
            if let Some(Value::Array(lines)) = fields.get("kit_lines") {
                kit_without_location |=
                    !lines.is_empty() && fields.get("stock_location_id").is_none_or(Value::is_null);
                for line in lines {
                    collect_ids(
                        line.get("naloxone").and_then(|n| n.get("incident_id")),
                        &mut incident_ids,
                    );
                }
            }
            if let Some(Value::Array(people)) = fields.get("people") {
                for p in people {
                    collect_ids(p.get("person_id"), &mut person_ids);
                }
            }
        }
        let sites = existing::<site::Entity, C>(
            db,
            site_ids,
            (site::Column::Id, site::Column::OrganisationId, org),
            Condition::all().add(site::Column::ArchivedAt.is_null()),
        )
        .await?;
        let users = existing::<user::Entity, C>(
            db,
            user_ids,
            (user::Column::Id, user::Column::OrganisationId, org),
            Condition::all(),
        )
        .await?;
        let persons = existing::<person::Entity, C>(
            db,
            person_ids,
            (person::Column::Id, person::Column::OrganisationId, org),
            Condition::all().add(person::Column::DeletedAt.is_null()),
        )
        .await?;
        // Only the referrals the writer may see: a step on any other is
        // refused as an unknown reference, as REST answers 404.
        let scope = actor.site_condition(referral::Column::SiteId, referral::Column::RecordedBy);
        let referrals = existing::<referral::Entity, C>(
            db,
            referral_ids.clone(),
            (referral::Column::Id, referral::Column::OrganisationId, org),
            Condition::all().add(referral::Column::DeletedAt.is_null()).add(scope),
        )
        .await?;
        // Only when a contact needs it: one query, not on every push.
        let device_location = match actor.device_id {
            Some(device_id) if kit_without_location => device::Entity::find_by_id(device_id)
                .select_only()
                .column(device::Column::StockLocationId)
                .filter(device::Column::OrganisationId.eq(org))
                .into_tuple::<Option<Uuid>>()
                .one(db)
                .await?
                .flatten(),
            _ => None,
        };
        location_ids.extend(device_location);
        let stock_locations = stock_locations(db, org, location_ids).await?;
        let scope = actor.site_condition(incident::Column::SiteId, incident::Column::RecordedBy);
        let incidents = existing::<incident::Entity, C>(
            db,
            incident_ids,
            (incident::Column::Id, incident::Column::OrganisationId, org),
            Condition::all().add(incident::Column::DeletedAt.is_null()).add(scope),
        )
        .await?;
        let unseen: Vec<Uuid> =
            referral_ids.iter().filter(|id| !referrals.contains(*id)).copied().collect();
        let inbox = if unseen.is_empty() || !crate::records::referral::inbox::handles_inbox(&actor)
        {
            HashMap::new()
        } else {
            referral_share::Entity::find()
                .filter(referral_share::Column::OrganisationId.eq(org))
                .filter(referral_share::Column::ReferralId.is_in(unseen))
                .filter(referral_share::Column::EndedAt.is_null())
                .all(db)
                .await?
                .into_iter()
                .map(|s| (s.referral_id, s.referrer_organisation_id))
                .collect()
        };
        Ok(Self {
            inbox,
            catalogue: Catalogue::load(db, org).await?,
            stock_locations,
            incidents,
            device_location,
            actor,
            sites,
            users,
            persons,
            referrals,
            online: false,
            now: Utc::now(),
        })
    }
}

/// The active stock locations of the organisation among `ids`, with their
/// sites.
async fn stock_locations<C: ConnectionTrait>(
    db: &C,
    organisation_id: Uuid,
    ids: HashSet<Uuid>,
) -> Result<HashMap<Uuid, Uuid>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<Uuid> = ids.into_iter().collect();
    let mut found = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(Uuid, Uuid)> = stock_location::Entity::find()
            .select_only()
            .column(stock_location::Column::Id)
            .column(stock_location::Column::SiteId)
            .filter(stock_location::Column::OrganisationId.eq(organisation_id))
            .filter(stock_location::Column::ArchivedAt.is_null())
            .filter(stock_location::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

fn collect_ids(value: Option<&Value>, into: &mut HashSet<Uuid>) {
    if let Some(id) = value.and_then(Value::as_str).and_then(|s| Uuid::parse_str(s).ok()) {
        into.insert(id);
    }
}

/// Which of `ids` are rows of `E` (by its id column) in the organisation
/// (its column and id) that meet `condition`.
async fn existing<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    ids: HashSet<Uuid>,
    (id, organisation, organisation_id): (E::Column, E::Column, Uuid),
    condition: Condition,
) -> Result<HashSet<Uuid>, DbErr> {
    let mut found = HashSet::new();
    let ids: Vec<Uuid> = ids.into_iter().collect();
    for chunk in ids.chunks(500) {
        let rows = E::find()
            .select_only()
            .column(id)
            .filter(organisation.eq(organisation_id))
            .filter(condition.clone())
            .filter(id.is_in(chunk.iter().copied()))
            .into_tuple::<Uuid>()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}
