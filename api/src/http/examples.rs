//! The example of every request body, as the docs page (`/docs`) offers
//! it and generated clients document it. Each one works when pressed, in
//! the order a newcomer meets them, against `outpost serve --demo`: the
//! login is the demo worker's, with no device (a fixed device id would be
//! claimed by the first account that tried it, and refused to the next);
//! records carry fixed UUID v7 ids, so the contact, incident and referral
//! examples name the person of the person example, and pressing a create
//! twice answers the stored record (200). A test presses them all
//! (`tests/tests/api/examples.rs`) and another fails when a request body
//! has none.
//!
//! Kept by schema name, in one place, so a body's example changes with it.

use serde_json::{Value, json};

/// The example person's id (create it first: the other records name it).
pub const PERSON_ID: &str = "0193b6a0-0000-7000-8000-000000000001";
/// The example contact's id.
pub const CONTACT_ID: &str = "0193b6a0-0000-7000-8000-000000000002";
/// The example incident's id.
pub const INCIDENT_ID: &str = "0193b6a0-0000-7000-8000-000000000003";
/// The example referral's id.
pub const REFERRAL_ID: &str = "0193b6a0-0000-7000-8000-000000000004";
/// The example referral step's id.
pub const STEP_ID: &str = "0193b6a0-0000-7000-8000-000000000005";

/// The example stock entry's id.
pub const STOCK_ENTRY_ID: &str = "0193b6a0-0000-7000-8000-000000000006";

/// The example consent's id.
pub const CONSENT_ID: &str = "0193b6a0-0000-7000-8000-000000000007";

/// The example revocation's id.
pub const REVOCATION_ID: &str = "0193b6a0-0000-7000-8000-000000000008";

/// The example of the request body schema `name`, if it has one.
pub fn request_example(name: &str) -> Option<Value> {
    Some(match name {
        "LoginRequest" => json!({
            "email": "worker1@demo.outpost.test",
            "password": "outpost-demo",
        }),
        "UpdateOrganisation" => json!({ "name": "Demo Outreach" }),
        "CreateSite" => json!({ "name": "Canal Street Van", "kind": "van", "area": "Canal ward" }),
        "UpdateSite" => json!({ "area": "Canal and harbour wards" }),
        "CreateKitItem" => json!({
            "code": "fentanyl_test_strip",
            "name": "Fentanyl test strip",
            "category": "other",
            "unit": "each",
        }),
        "UpdateKitItem" => json!({ "unit": "pack of 10" }),
        "CreateSubstance" => json!({
            "code": "nitazene",
            "name": "Nitazenes",
            "category": "opioid",
            "aliases": ["nitaz"],
        }),
        "UpdateSubstance" => json!({ "aliases": ["nitaz", "isos"] }),
        "CreatePartnerService" => json!({
            "name": "Harbour Drug and Alcohol Service",
            "service_type": "drug_alcohol_treatment",
            "contact_route": "Phone 01632 960123, or walk in",
            "opening_hours": "Mon-Fri 9:00-17:00",
            "area": "Harbour ward",
        }),
        "UpdatePartnerService" => json!({ "opening_hours": "Mon-Sat 9:00-17:00" }),
        "CreateUser" => json!({
            "email": "worker3@demo.outpost.test",
            "display_name": "Demo Worker Three",
            "role": "worker",
            "password": "correct horse battery staple",
            "site_ids": [],
        }),
        "UpdateUser" => json!({ "display_name": "Demo Worker Three (nights)" }),
        "SetDeviceStockLocation" => json!({ "stock_location_id": crate::ops::demo::DEMO_BAG }),
        "CreateApiKey" => json!({ "name": "Monthly returns export", "scopes": ["records:read"] }),
        "CreatePerson" => json!({
            "id": PERSON_ID,
            "alias": "Gaz",
            "initials": "GM",
            "name_quality": "street_name",
            "birth_year": 1984,
            "dob_quality": "approximate",
            "gender": "man",
            "description": "Tall, grey beard, usually by the station",
            "risk_flags": [{
                "kind": "recent_overdose",
                "priority": "high",
                "expires_on": "2027-01-31",
                "note": "Overdosed on 28 November",
            }],
        }),
        "UpdatePerson" => json!({ "alias": "Gary" }),
        "CreateContact" => json!({
            "id": CONTACT_ID,
            "occurred_at": "2026-12-01T22:15:00Z",
            "location_area": "Station underpass",
            "person_id": PERSON_ID,
            "contact_type": "street_outreach",
            "living_situation": "rough_sleeping",
            "interventions": ["harm_reduction_advice", "nps_information"],
            "substances": [{ "substance": "Spice", "known_by": "self_reported" }],
            "kit_lines": [
                { "item": "foil", "quantity": 2 },
                {
                    "item": "naloxone_nasal",
                    "quantity": 1,
                    "naloxone": {
                        "supply": "repeat",
                        "repeat_reason": "used_on_overdose",
                        "recipient": "person_at_risk",
                        "trained": "before",
                    },
                },
            ],
        }),
        "CreateIncident" => json!({
            "id": INCIDENT_ID,
            "occurred_at": "2026-12-01T23:05:00Z",
            "location_area": "Station underpass",
            "incident_type": "naloxone_administered",
            "severity": "serious",
            "people": [{ "person_id": PERSON_ID }],
            "substances": ["heroin"],
            "ambulance_called": true,
            "ambulance_arrived": true,
            "naloxone_doses": 2,
            "rescue_breaths": true,
            "outcome": "taken_to_hospital",
        }),
        "CreateReferral" => json!({
            "id": REFERRAL_ID,
            "person_id": PERSON_ID,
            "occurred_at": "2026-12-02T09:00:00Z",
            "service_type": "drug_alcohol_treatment",
            "reason": "Wants to start a script after the overdose",
            "urgency": "urgent",
            "consent_to_share": true,
        }),
        "UpdateReferral" => json!({ "urgency": "emergency" }),
        "CreateReferralStep" => json!({
            "id": STEP_ID,
            "status": "sent",
            "occurred_at": "2026-12-02T09:30:00Z",
            "note": "Referral form emailed to the service",
        }),
        "CreateWebhookEndpoint" => json!({
            "url": "https://hooks.example.org/outpost",
            "events": ["referral_sent", "referral_step"],
        }),
        "LinkPartnerService" => json!({
            "code": "oplk_5f2c9a0e7b1d4c3a9e8f6b2d1c0a7e4f5b3d2c1a0e9f8b7c6d5e4f3a2b1c0d9e",
        }),
        "SetReferralDeadline" => json!({
            "respond_within_minutes": 120,
            "expire_after_minutes": 2880,
        }),
        "CreateStockLocation" => json!({
            "site_id": crate::ops::demo::DEMO_STREET_TEAM,
            "kind": "bag",
            "name": "Night bag 2",
        }),
        "UpdateStockLocation" => json!({ "name": "Night bag 2 (spare)" }),
        "CreateStockThreshold" => json!({
            "location_id": crate::ops::demo::DEMO_VAN,
            "item_code": "naloxone_nasal",
            "minimum": 6,
        }),
        "UpdateStockThreshold" => json!({ "minimum": 8 }),
        "CreateStockEntry" => json!({
            "id": STOCK_ENTRY_ID,
            "kind": "receipt",
            "occurred_at": "2026-12-01T18:30:00Z",
            "location_id": crate::ops::demo::DEMO_VAN,
            "item_code": "naloxone_nasal",
            "quantity": 10,
            "supplier": "Harbour Pharmacy",
            "batch": "NX2291",
            "expires_on": "2028-06-30",
        }),
        "CreateConsent" => json!({
            "id": CONSENT_ID,
            "person_id": PERSON_ID,
            "purposes": ["direct_care", "identifiable_returns"],
            "how": "verbal",
            "occurred_at": "2026-12-02T08:50:00Z",
            "expires_at": "2027-12-02T08:50:00Z",
            "note": "Explained what the returns hold and who sees them",
        }),
        "CreateConsentRevocation" => json!({
            "id": REVOCATION_ID,
            "how": "verbal",
            "occurred_at": "2026-12-02T10:15:00Z",
            "note": "No longer wants to be counted by name",
        }),
        "PushRequest" => {
            let kinds = [
                "person",
                "contact",
                "incident",
                "referral",
                "referral_step",
                "stock_entry",
                "consent",
                "consent_revocation",
            ];
            json!({ "mutations": kinds.into_iter().filter_map(pushed).collect::<Vec<_>>() })
        }
        "PersonMutation" => pushed("person")?,
        "ContactMutation" => pushed("contact")?,
        "IncidentMutation" => pushed("incident")?,
        "ReferralMutation" => pushed("referral")?,
        "ReferralStepMutation" => pushed("referral_step")?,
        "StockEntryMutation" => pushed("stock_entry")?,
        "ConsentMutation" => pushed("consent")?,
        "ConsentRevocationMutation" => pushed("consent_revocation")?,
        "ResolveConflict" => json!({ "resolution": "keep_theirs" }),
        _ => return None,
    })
}

/// A push's mutation creating one record of `kind`, as a phone sends it
/// after a night's round: a person met, the contact with the kit handed
/// out, an overdose attended, a referral for them and its first step. The
/// later ones name the person (and the referral) of the earlier ones.
fn pushed(kind: &str) -> Option<Value> {
    const PERSON: &str = "0193b6a0-0000-7000-8000-000000000011";
    const REFERRAL: &str = "0193b6a0-0000-7000-8000-000000000014";
    let (n, id, fields) = match kind {
        "person" => (1, PERSON, json!({ "alias": "Shaz", "name_quality": "street_name" })),
        "contact" => (
            2,
            "0193b6a0-0000-7000-8000-000000000012",
            json!({
                "occurred_at": "2026-12-01T22:40:00Z",
                "person_id": PERSON,
                "contact_type": "street_outreach",
                "interventions": ["harm_reduction_advice"],
                "kit_lines": [
                    { "item": "injecting_pack_basic", "quantity": 1 },
                    {
                        "item": "naloxone_nasal",
                        "quantity": 1,
                        "naloxone": {
                            "supply": "first",
                            "recipient": "family_or_friend",
                            "trained": "now",
                        },
                    },
                ],
            }),
        ),
        "incident" => (
            3,
            "0193b6a0-0000-7000-8000-000000000013",
            json!({
                "occurred_at": "2026-12-01T23:05:00Z",
                "incident_type": "suspected_overdose",
                "severity": "serious",
                "people": [{ "person_id": PERSON }],
                "substances": ["heroin"],
                "ambulance_called": true,
                "naloxone_doses": 2,
                "outcome": "recovered_on_site",
            }),
        ),
        "referral" => (
            4,
            REFERRAL,
            json!({
                "person_id": PERSON,
                "service_type": "drug_alcohol_treatment",
                "reason": "Asked for a script after the overdose",
                "urgency": "urgent",
                "consent_to_share": true,
            }),
        ),
        "referral_step" => (
            5,
            "0193b6a0-0000-7000-8000-000000000015",
            json!({
                "referral_id": REFERRAL,
                "status": "sent",
                "occurred_at": "2026-12-02T09:30:00Z",
            }),
        ),
        "stock_entry" => (
            6,
            "0193b6a0-0000-7000-8000-000000000016",
            json!({
                "kind": "receipt",
                "occurred_at": "2026-12-01T19:00:00Z",
                "location_id": crate::ops::demo::DEMO_BAG,
                "item_code": "foil",
                "quantity": 50,
                "supplier": "Van restock",
            }),
        ),
        "consent" => (
            7,
            "0193b6a0-0000-7000-8000-000000000017",
            json!({
                "person_id": PERSON,
                "purposes": ["direct_care"],
                "how": "verbal",
                "occurred_at": "2026-12-01T22:41:00Z",
            }),
        ),
        "consent_revocation" => (
            8,
            "0193b6a0-0000-7000-8000-000000000018",
            json!({
                "consent_id": "0193b6a0-0000-7000-8000-000000000017",
                "how": "verbal",
                "occurred_at": "2026-12-02T09:00:00Z",
            }),
        ),
        _ => return None,
    };
    Some(json!({
        "mutation_id": format!("0193b6a0-0000-7000-8000-00000000002{n}"),
        "entity": kind,
        "id": id,
        "op": "create",
        "fields": fields,
    }))
}
