//! The reference data every new organisation starts with: a UK
//! harm-reduction kit catalogue and the common substances with the street
//! names outreach teams hear. Admins edit or archive them afterwards.

use chrono::Utc;
use outpost_entity::{kit_item, substance};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};
use uuid::Uuid;

use crate::records::reference::{
    kit_item::PackComponent,
    vocab::{KitCategory, SubstanceCategory},
};
use crate::{
    domain::stored_name,
    sync::{
        EntityKind,
        feed::{self, FeedEntry},
    },
};

use KitCategory as K;
use SubstanceCategory as S;

/// Ordinary kit items: code, name, category, unit.
const KIT: &[(&str, &str, KitCategory, &str)] = &[
    ("syringe_1ml_29g", "1ml insulin syringe, 29G fixed needle", K::InjectingEquipment, "each"),
    ("syringe_1ml_30g", "1ml insulin syringe, 30G fixed needle", K::InjectingEquipment, "each"),
    ("syringe_2ml", "2ml barrel syringe", K::InjectingEquipment, "each"),
    ("needle_23g_green", "Needle 23G (green), for 2ml barrels", K::InjectingEquipment, "each"),
    ("needle_25g_orange", "Needle 25G (orange), for 2ml barrels", K::InjectingEquipment, "each"),
    ("cooker", "Spoon / cooker", K::InjectingEquipment, "each"),
    ("filter", "Filter", K::InjectingEquipment, "each"),
    ("citric_acid", "Citric acid sachet", K::InjectingEquipment, "sachet"),
    ("sterile_water", "Sterile water, 2ml ampoule", K::InjectingEquipment, "ampoule"),
    ("swab", "Alcohol swab", K::InjectingEquipment, "each"),
    ("sharps_bin_1l", "Sharps bin, 1 litre", K::InjectingEquipment, "each"),
    ("sharps_bin_5l", "Sharps bin, 5 litre", K::InjectingEquipment, "each"),
    ("foil", "Foil sheets", K::FoilAndSmoking, "pack of 10"),
    ("condom", "Condoms", K::SexualHealth, "each"),
    ("lubricant", "Lubricant sachet", K::SexualHealth, "sachet"),
    ("naloxone_nasal", "Naloxone nasal spray (Nyxoid)", K::Naloxone, "kit"),
    ("naloxone_injectable", "Naloxone injectable (Prenoxad)", K::Naloxone, "kit"),
    ("info_pack_nps", "NPS information pack", K::Information, "each"),
    ("info_pack_chemsex", "Chemsex information pack", K::Information, "each"),
    ("drug_diary", "Drug diary", K::Information, "each"),
    ("drink_spikey", "Drink spikey (bottle stopper)", K::Other, "each"),
];

/// A pre-made pack: code, name, category, unit, components (code, quantity).
type Pack = (&'static str, &'static str, KitCategory, &'static str, &'static [(&'static str, i32)]);

/// Pre-made packs.
const PACKS: &[Pack] = &[(
    "injecting_pack_basic",
    "Basic injecting pack",
    K::InjectingEquipment,
    "pack",
    &[
        ("syringe_1ml_29g", 10),
        ("swab", 10),
        ("cooker", 2),
        ("filter", 2),
        ("citric_acid", 2),
        ("sterile_water", 2),
    ],
)];

/// Substances: code, name, category, street names.
const SUBSTANCES: &[(&str, &str, SubstanceCategory, &[&str])] = &[
    (
        "synthetic_cannabinoid",
        "Synthetic cannabinoids (NPS)",
        S::SyntheticCannabinoid,
        &[
            "Spice",
            "Black Mamba",
            "Mamba",
            "Clockwork Orange",
            "Exodus Damnation",
            "legal highs",
            "NPS",
            "pound shop brown",
            "K2",
            "Bonzai",
        ],
    ),
    ("heroin", "Heroin", S::Opioid, &["brown", "gear", "smack"]),
    ("crack_cocaine", "Crack cocaine", S::Stimulant, &["white", "rock", "stones"]),
    ("cocaine", "Cocaine powder", S::Stimulant, &["coke", "charlie"]),
    ("benzodiazepines", "Benzodiazepines", S::Depressant, &["benzos", "street valium", "blues"]),
    ("pregabalin", "Pregabalin", S::Depressant, &["buds", "gabbies"]),
    ("gabapentin", "Gabapentin", S::Depressant, &[]),
    ("methadone", "Methadone", S::Opioid, &[]),
    ("buprenorphine", "Buprenorphine", S::Opioid, &["subs"]),
    ("ketamine", "Ketamine", S::Dissociative, &["K", "ket"]),
    ("ghb_gbl", "GHB / GBL", S::Depressant, &["G", "gina"]),
    ("mephedrone", "Mephedrone", S::Stimulant, &["meow meow", "m-cat"]),
    ("methamphetamine", "Methamphetamine", S::Stimulant, &["crystal", "tina"]),
    ("alcohol", "Alcohol", S::Alcohol, &[]),
    ("cannabis", "Cannabis", S::Other, &["weed", "skunk"]),
    ("nitrous_oxide", "Nitrous oxide", S::Dissociative, &["nos", "balloons"]),
    ("other", "Other substance", S::Other, &[]),
];

/// Inserts the default kit catalogue and substances for a new organisation
/// (version 1 each) and puts them on its change feed. Call it inside the
/// transaction that creates the organisation, last before commit: the feed
/// append takes the organisation's counter lock.
pub async fn seed_defaults<C: ConnectionTrait>(db: &C, organisation_id: Uuid) -> Result<(), DbErr> {
    let now = Utc::now();
    let kit_row = |code: &str, name: &str, category: &KitCategory, unit: &str, json: String| {
        kit_item::ActiveModel {
            id: Set(Uuid::now_v7()),
            organisation_id: Set(organisation_id),
            code: Set(code.to_owned()),
            name: Set(name.to_owned()),
            category: Set(stored_name(category)),
            unit: Set(unit.to_owned()),
            components: Set(json),
            version: Set(1),
            archived_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
    };
    let mut kit: Vec<kit_item::ActiveModel> = KIT
        .iter()
        .map(|(code, name, category, unit)| kit_row(code, name, category, unit, "[]".into()))
        .collect();
    for (code, name, category, unit, components) in PACKS {
        let components: Vec<PackComponent> = components
            .iter()
            .map(|(code, quantity)| PackComponent { code: (*code).to_owned(), quantity: *quantity })
            .collect();
        let json = serde_json::to_string(&components).map_err(|e| DbErr::Custom(e.to_string()))?;
        kit.push(kit_row(code, name, category, unit, json));
    }
    let substances: Vec<substance::ActiveModel> = SUBSTANCES
        .iter()
        .map(|(code, name, category, aliases)| substance::ActiveModel {
            id: Set(Uuid::now_v7()),
            organisation_id: Set(organisation_id),
            code: Set((*code).to_owned()),
            name: Set((*name).to_owned()),
            category: Set(stored_name(category)),
            aliases: Set(serde_json::to_string(aliases).unwrap_or_else(|_| "[]".into())),
            version: Set(1),
            archived_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect();

    let mut entries: Vec<FeedEntry> = kit
        .iter()
        .filter_map(|row| row.id.try_as_ref())
        .map(|id| FeedEntry::upsert(EntityKind::KitItem, *id, 1))
        .collect();
    entries.extend(
        substances
            .iter()
            .filter_map(|row| row.id.try_as_ref())
            .map(|id| FeedEntry::upsert(EntityKind::Substance, *id, 1)),
    );
    let names: Vec<(Uuid, String, Vec<String>)> = SUBSTANCES
        .iter()
        .zip(&substances)
        .filter_map(|((code, _, _, aliases), row)| {
            let aliases = aliases.iter().map(|a| (*a).to_owned()).collect();
            row.id.try_as_ref().map(|id| (*id, (*code).to_owned(), aliases))
        })
        .collect();
    kit_item::Entity::insert_many(kit).exec_without_returning(db).await?;
    substance::Entity::insert_many(substances).exec_without_returning(db).await?;
    for (id, code, aliases) in names {
        super::substances::claim_names(db, organisation_id, id, &code, &aliases).await?;
    }
    feed::append(db, organisation_id, entries).await
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::{records::reference::substance::name_key, service::reference::code};

    #[test]
    fn defaults_are_valid_and_unambiguous() {
        let kit: HashSet<&str> = KIT.iter().map(|k| k.0).collect();
        assert_eq!(kit.len(), KIT.len(), "duplicate kit code");
        for c in KIT.iter().map(|k| k.0).chain(PACKS.iter().map(|p| p.0)) {
            assert_eq!(code("code", c).unwrap(), c);
        }
        for pack in PACKS {
            assert!(pack.4.iter().all(|(c, _)| kit.contains(c)), "{} has an unknown part", pack.0);
        }
        let mut names = HashSet::new();
        for (c, _, _, aliases) in SUBSTANCES {
            assert_eq!(code("code", c).unwrap(), *c);
            assert!(names.insert(name_key(c)), "{c} repeated");
            for alias in *aliases {
                assert!(alias.chars().count() <= 60);
                assert!(names.insert(name_key(alias)), "{alias} repeated");
            }
        }
    }
}
