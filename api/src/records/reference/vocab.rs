//! The vocabularies of the reference data: kit categories, substance
//! categories and partner service types. Stored as their snake_case names,
//! like the enums of `crate::domain`.

use poem_openapi::Enum;

/// The group a kit item is counted under in reports.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[oai(rename_all = "snake_case")]
pub enum KitCategory {
    /// Needles, syringes, cookers, filters, citric, water, swabs, sharps bins.
    InjectingEquipment,
    /// Foil and other equipment for smoking.
    FoilAndSmoking,
    /// Naloxone, nasal or injectable.
    Naloxone,
    /// Condoms, lube and other sexual health supplies.
    SexualHealth,
    /// Leaflets, information packs, drug diaries.
    Information,
    /// Anything else.
    Other,
}

/// The pharmacological group of a substance.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[oai(rename_all = "snake_case")]
pub enum SubstanceCategory {
    /// Synthetic cannabinoids ("Spice", "Mamba").
    SyntheticCannabinoid,
    /// Heroin, methadone, buprenorphine and other opioids.
    Opioid,
    /// Crack, cocaine, mephedrone, methamphetamine.
    Stimulant,
    /// Benzodiazepines, gabapentinoids, GHB/GBL.
    Depressant,
    /// Ketamine, nitrous oxide.
    Dissociative,
    /// LSD, psilocybin and the like.
    Hallucinogen,
    /// Alcohol.
    Alcohol,
    /// Anything else.
    Other,
}

/// The kind of partner service a referral goes to (shared with referrals).
pub use crate::records::vocab::ServiceType;
