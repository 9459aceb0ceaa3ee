//! The demo organisation `outpost serve --demo` loads, idempotently, so a
//! newcomer can sign in and try everything at once.

use chrono::Utc;
use outpost_entity::{organisation, site, stock_location, user, user_site};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::service::{
    ServiceResult,
    organisations::{self, NewOrganisation},
    sites, users,
};
use crate::{
    config::PasswordHashing,
    domain::{Role, SiteKind, stored_name},
    records::vocab::StockLocationKind,
    secrets::hash_password,
    sync::{
        EntityKind,
        feed::{self, FeedEntry},
    },
};

/// The password of every demo account (demo mode only).
pub const DEMO_PASSWORD: &str = "outpost-demo";
/// The demo organisation's slug.
pub const DEMO_SLUG: &str = "demo-outreach";

/// The demo accounts: email, display name, role.
pub const DEMO_USERS: [(&str, &str, Role); 4] = [
    ("admin@demo.outpost.test", "Demo Admin", Role::Admin),
    ("manager@demo.outpost.test", "Demo Manager", Role::Manager),
    ("worker1@demo.outpost.test", "Demo Worker One", Role::Worker),
    ("worker2@demo.outpost.test", "Demo Worker Two", Role::Worker),
];

/// The street team's site: fixed, so the docs page's examples can name it.
pub const DEMO_STREET_TEAM: &str = "0193b6a0-0000-7000-8000-0000000000b4";
/// The street team's van (a stock location).
pub const DEMO_VAN: &str = "0193b6a0-0000-7000-8000-0000000000a1";
/// A night bag of the street team (a stock location).
pub const DEMO_BAG: &str = "0193b6a0-0000-7000-8000-0000000000a2";

const DEMO_SITES: [(&str, SiteKind, &str); 4] = [
    ("Riverside Day Centre", SiteKind::DayCentre, "Town centre"),
    ("Harbour Hostel", SiteKind::Hostel, "Harbour ward"),
    ("St Anne's Night Shelter", SiteKind::NightShelter, "Old town"),
    ("Street Outreach Team", SiteKind::OutreachTeam, "Citywide"),
];

/// Creates whatever part of the demo organisation is missing.
pub async fn ensure(
    db: &DatabaseConnection,
    cost: &PasswordHashing,
) -> ServiceResult<organisation::Model> {
    let (admin_email, admin_name, _) = DEMO_USERS[0];
    let org = match organisation::Entity::find()
        .filter(organisation::Column::Slug.eq(DEMO_SLUG))
        .one(db)
        .await?
    {
        Some(org) => org,
        None => {
            organisations::create_with_admin(
                db,
                cost,
                NewOrganisation {
                    name: "Demo Outreach",
                    slug: DEMO_SLUG,
                    admin_email,
                    admin_name,
                    admin_password: DEMO_PASSWORD,
                },
            )
            .await?
            .0
        }
    };
    let now = Utc::now();
    let mut site_ids = Vec::new();
    for (name, kind, area) in DEMO_SITES {
        let existing = site::Entity::find()
            .filter(site::Column::OrganisationId.eq(org.id))
            .filter(site::Column::Name.eq(name))
            .one(db)
            .await?;
        let site = match existing {
            Some(site) => site,
            None => {
                let id = if kind == SiteKind::OutreachTeam {
                    Uuid::parse_str(DEMO_STREET_TEAM).expect("a UUID")
                } else {
                    Uuid::now_v7()
                };
                let site = site::ActiveModel {
                    id: Set(id),
                    organisation_id: Set(org.id),
                    name: Set(name.to_owned()),
                    kind: Set(stored_name(&kind)),
                    area: Set(Some(area.to_owned())),
                    archived_at: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(db)
                .await?;
                // Devices learn of sites from the change feed.
                sites::append_to_feed(db, &site).await?;
                site
            }
        };
        site_ids.push(site.id);
    }
    for (id, kind, name) in [
        (DEMO_VAN, StockLocationKind::Van, "Outreach van"),
        (DEMO_BAG, StockLocationKind::Bag, "Night bag 1"),
    ] {
        let id = Uuid::parse_str(id).expect("a UUID");
        if stock_location::Entity::find_by_id(id).one(db).await?.is_some() {
            continue;
        }
        let location = stock_location::ActiveModel {
            id: Set(id),
            organisation_id: Set(org.id),
            site_id: Set(site_ids[3]),
            kind: Set(stored_name(&kind)),
            name: Set(name.to_owned()),
            version: Set(1),
            archived_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
        let entry = FeedEntry::upsert(EntityKind::StockLocation, id, 1)
            .at_site(Some(location.site_id), None);
        feed::append(db, org.id, vec![entry]).await?;
    }
    for (email, name, role) in DEMO_USERS.into_iter().skip(1) {
        if user::Entity::find().filter(user::Column::Email.eq(email)).one(db).await?.is_some() {
            continue;
        }
        let hash = hash_password(DEMO_PASSWORD.to_owned(), cost.clone()).await?;
        let user =
            users::insert_row(db, org.id, email.to_owned(), name.to_owned(), role, hash).await?;
        // The manager covers every site; each worker a building and the
        // street team.
        let sites: Vec<Uuid> = match email {
            "worker1@demo.outpost.test" => vec![site_ids[0], site_ids[3]],
            "worker2@demo.outpost.test" => vec![site_ids[1], site_ids[2]],
            _ => site_ids.clone(),
        };
        user_site::Entity::insert_many(sites.into_iter().map(|site_id| user_site::ActiveModel {
            user_id: Set(user.id),
            site_id: Set(site_id),
        }))
        .exec(db)
        .await?;
    }
    Ok(org)
}
