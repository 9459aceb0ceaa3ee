//! The organisation's active reference data in memory, for validating a
//! batch of field records without a query per record.

use std::collections::{HashMap, HashSet};

use outpost_entity::{kit_item, partner_service, substance};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{
    kit_item::components_of,
    substance::{aliases_of, name_key},
    vocab::KitCategory,
};
use crate::domain::stored_name;

/// The organisation's reference data, loaded once per sync batch.
#[derive(Debug, Default, Clone)]
pub struct Catalogue {
    /// Active kit item codes, with what each expands into (empty unless a pack).
    kit: HashMap<String, Vec<(String, i32)>>,
    /// Name keys (codes and street names) to substance codes.
    substances: HashMap<String, String>,
    /// Active partner services.
    partner_services: HashSet<Uuid>,
    /// The active kit items of the naloxone category (their lines carry a
    /// supply's detail).
    naloxone: HashSet<String>,
}

impl Catalogue {
    /// Loads the organisation's active (not archived) kit items, substances
    /// and partner services.
    pub async fn load<C: ConnectionTrait>(
        db: &C,
        organisation_id: Uuid,
    ) -> Result<Catalogue, DbErr> {
        let items = kit_item::Entity::find()
            .filter(kit_item::Column::OrganisationId.eq(organisation_id))
            .filter(kit_item::Column::ArchivedAt.is_null())
            .all(db)
            .await?;
        let naloxone = items
            .iter()
            .filter(|item| item.category == stored_name(&KitCategory::Naloxone))
            .map(|item| item.code.clone())
            .collect();
        let kit = items
            .into_iter()
            .map(|item| {
                let components =
                    components_of(&item).into_iter().map(|c| (c.code, c.quantity)).collect();
                (item.code, components)
            })
            .collect();
        let substances = substance::Entity::find()
            .filter(substance::Column::OrganisationId.eq(organisation_id))
            .filter(substance::Column::ArchivedAt.is_null())
            .all(db)
            .await?
            .into_iter()
            .map(|s| {
                let aliases = aliases_of(&s);
                (s.code, aliases)
            });
        let partner_services = partner_service::Entity::find()
            .select_only()
            .column(partner_service::Column::Id)
            .filter(partner_service::Column::OrganisationId.eq(organisation_id))
            .filter(partner_service::Column::ArchivedAt.is_null())
            .into_tuple::<Uuid>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        Ok(Self { naloxone, ..Self::from_parts(kit, substances, partner_services) })
    }

    /// Builds the lookups. Codes win over street names should the two ever
    /// collide (the services refuse such data).
    fn from_parts(
        kit: HashMap<String, Vec<(String, i32)>>,
        substances: impl IntoIterator<Item = (String, Vec<String>)>,
        partner_services: HashSet<Uuid>,
    ) -> Self {
        let substances: Vec<(String, Vec<String>)> = substances.into_iter().collect();
        let mut names = HashMap::new();
        for (code, aliases) in &substances {
            for alias in aliases {
                names.insert(name_key(alias), code.clone());
            }
        }
        for (code, _) in &substances {
            names.insert(name_key(code), code.clone());
        }
        Self { kit, substances: names, partner_services, naloxone: HashSet::new() }
    }

    /// Whether `code` is a naloxone kit (its lines carry a supply's
    /// detail).
    pub fn is_naloxone(&self, code: &str) -> bool {
        self.naloxone.contains(code)
    }

    /// Whether `code` names an active (not archived) kit item.
    pub fn has_kit_item(&self, code: &str) -> bool {
        self.kit.contains_key(code)
    }

    /// The components a pack expands into (empty for an ordinary item or
    /// unknown code).
    pub fn pack_components(&self, code: &str) -> &[(String, i32)] {
        self.kit.get(code).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Resolves a substance code or any alias/street name, case-insensitively
    /// and ignoring surrounding whitespace, to its code ("Spice" ->
    /// "synthetic_cannabinoid").
    pub fn substance_code(&self, name_or_alias: &str) -> Option<&str> {
        self.substances.get(&name_key(name_or_alias)).map(String::as_str)
    }

    /// Whether `id` is an active partner service of the organisation.
    pub fn has_partner_service(&self, id: Uuid) -> bool {
        self.partner_services.contains(&id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        let substances = [
            (
                "synthetic_cannabinoid",
                vec!["Spice", "Black Mamba", "Mamba", "pound shop brown", "K2", "NPS"],
            ),
            ("heroin", vec!["brown", "gear", "smack"]),
            ("ketamine", vec!["K", "ket"]),
            ("alcohol", vec![]),
        ]
        .into_iter()
        .map(|(code, aliases)| {
            (code.to_owned(), aliases.into_iter().map(str::to_owned).collect::<Vec<_>>())
        });
        let kit = HashMap::from([
            ("swab".to_owned(), vec![]),
            ("injecting_pack_basic".to_owned(), vec![("swab".to_owned(), 10)]),
        ]);
        Catalogue::from_parts(kit, substances, HashSet::new())
    }

    #[test]
    fn street_names_resolve_to_codes() {
        let c = catalogue();
        assert_eq!(c.substance_code("Spice"), Some("synthetic_cannabinoid"));
        assert_eq!(c.substance_code("  spice "), Some("synthetic_cannabinoid"));
        assert_eq!(c.substance_code("SPICE"), Some("synthetic_cannabinoid"));
        assert_eq!(c.substance_code("black mamba"), Some("synthetic_cannabinoid"));
        assert_eq!(c.substance_code("Black  Mamba"), Some("synthetic_cannabinoid"));
        assert_eq!(c.substance_code("Pound Shop Brown"), Some("synthetic_cannabinoid"));
        assert_eq!(c.substance_code("brown"), Some("heroin"));
        assert_eq!(c.substance_code("k"), Some("ketamine"));
        assert_eq!(c.substance_code("K2"), Some("synthetic_cannabinoid"));
    }

    #[test]
    fn codes_resolve_to_themselves() {
        let c = catalogue();
        assert_eq!(c.substance_code("heroin"), Some("heroin"));
        assert_eq!(c.substance_code(" Alcohol "), Some("alcohol"));
        assert_eq!(c.substance_code("synthetic_cannabinoid"), Some("synthetic_cannabinoid"));
    }

    #[test]
    fn unknown_names_do_not_resolve() {
        let c = catalogue();
        for unknown in ["", "   ", "mamba black", "spic", "legal highs"] {
            assert_eq!(c.substance_code(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn kit_and_packs() {
        let c = catalogue();
        assert!(c.has_kit_item("swab"));
        assert!(!c.has_kit_item("Swab"));
        assert!(c.pack_components("swab").is_empty());
        assert!(c.pack_components("nothing").is_empty());
        assert_eq!(c.pack_components("injecting_pack_basic"), &[("swab".to_owned(), 10)]);
        assert!(!c.has_partner_service(Uuid::nil()));
    }
}
