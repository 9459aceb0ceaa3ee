//! The coded vocabularies of the field records. Codes are stable snake_case
//! names: reports count by them, so a value is never free text.

use poem_openapi::Enum;

macro_rules! vocabulary {
    // Without `else`, an unreadable stored code shows as the first value.
    ($(#[$meta:meta])* $name:ident {
        $(#[$first_meta:meta])* $first:ident $(, $(#[$vmeta:meta])* $variant:ident)* $(,)?
    }) => {
        vocabulary!($(#[$meta])* $name else $first {
            $(#[$first_meta])* $first $(, $(#[$vmeta])* $variant)*
        });
    };
    ($(#[$meta:meta])* $name:ident else $fallback:ident {
        $(#[$first_meta:meta])* $first:ident $(, $(#[$vmeta:meta])* $variant:ident)* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(
            Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
        )]
        #[oai(rename_all = "snake_case")]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $(#[$first_meta])* $first, $($(#[$vmeta])* $variant),* }

        /// A view's value from its stored code (only this server writes
        /// it; an unknown code, never expected, shows as the fallback).
        impl $crate::records::view::FromStored<String> for $name {
            fn from_stored(stored: String) -> Self {
                $crate::domain::parse_stored(&stored).unwrap_or($name::$fallback)
            }
        }

        impl $crate::records::view::FromStored<Option<String>> for Option<$name> {
            fn from_stored(stored: Option<String>) -> Self {
                stored.and_then(|s| $crate::domain::parse_stored(&s).ok())
            }
        }

        $crate::records::view::wire_as_serde!($name);

        impl $crate::records::fields::FieldValue for $name {
            fn check(
                field: &str,
                value: &serde_json::Value,
                _: &$crate::records::context::BatchContext,
            ) -> Result<serde_json::Value, $crate::records::rejection::Rejection> {
                $crate::records::fields::code::<$name>(field, value)
            }
        }
    };
}

vocabulary!(
    /// How good the recorded name is (as HMIS records it).
    NameQuality else NotCollected {
        /// Full legal name given.
        Full,
        /// Part of a name.
        Partial,
        /// A street name or nickname only.
        StreetName,
        /// The person declined to give one.
        Declined,
        /// Not asked or not recorded.
        NotCollected,
    }
);

vocabulary!(
    /// How good the recorded date or year of birth is.
    DobQuality else NotCollected {
        /// Exact date given.
        Full,
        /// Approximate (a year, or an estimate).
        Approximate,
        /// The person declined.
        Declined,
        /// Not asked or not recorded.
        NotCollected,
    }
);

vocabulary!(
    /// Gender as the person describes it.
    Gender {
        /// Woman.
        Woman,
        /// Man.
        Man,
        /// Non-binary.
        NonBinary,
        /// Another description.
        Other,
        /// Preferred not to say.
        PreferNotToSay,
        /// Not known.
        NotKnown,
    }
);

vocabulary!(
    /// A risk flag shown to staff wherever the person appears.
    RiskKind {
        /// A risk to staff safety.
        StaffSafety,
        /// A recent overdose.
        RecentOverdose,
        /// A safeguarding concern.
        Safeguarding,
        /// Excluded from a site.
        SiteExclusion,
        /// A medical condition staff must know.
        Medical,
    }
);

vocabulary!(
    /// How urgent a risk flag is.
    RiskPriority {
        /// Low.
        Low,
        /// Medium.
        Medium,
        /// High.
        High,
    }
);

vocabulary!(
    /// The kind of contact.
    ContactType {
        /// Street outreach.
        StreetOutreach,
        /// A day-centre drop-in.
        DropIn,
        /// Hostel keywork.
        HostelKeywork,
        /// Night shelter check-in.
        ShelterCheckIn,
        /// Needle and syringe programme visit.
        NspVisit,
        /// By phone.
        Phone,
    }
);

vocabulary!(
    /// The living situation seen or reported.
    LivingSituation {
        /// Sleeping rough.
        RoughSleeping,
        /// In a hostel.
        Hostel,
        /// In a night shelter.
        NightShelter,
        /// Sofa surfing.
        SofaSurfing,
        /// In temporary accommodation.
        TemporaryAccommodation,
        /// In settled housing.
        SettledHousing,
        /// In prison or just released.
        Custody,
        /// Not known.
        Unknown,
    }
);

vocabulary!(
    /// Something done during a contact.
    Intervention {
        /// Brief advice.
        BriefAdvice,
        /// Information about new psychoactive substances.
        NpsInformation,
        /// Harm-reduction advice.
        HarmReductionAdvice,
        /// A welfare check.
        WelfareCheck,
        /// Wound care.
        WoundCare,
        /// A blood-borne virus test offered.
        BbvTestOffer,
        /// Naloxone training.
        NaloxoneTraining,
    }
);

vocabulary!(
    /// How a substance is known to have been used.
    KnownBy {
        /// The person said so.
        SelfReported,
        /// Staff observed it.
        Observed,
        /// Confirmed (test, packaging, clinician).
        Confirmed,
    }
);

vocabulary!(
    /// The kind of incident.
    IncidentType else MedicalEmergency {
        /// Suspected overdose.
        SuspectedOverdose,
        /// Naloxone administered.
        NaloxoneAdministered,
        /// A drug-related death.
        DrugRelatedDeath,
        /// A medical emergency.
        MedicalEmergency,
        /// Self-harm.
        SelfHarm,
        /// Violence or threats to staff.
        ViolenceToStaff,
        /// An assault on a client.
        AssaultOnClient,
        /// A safeguarding concern.
        SafeguardingConcern,
        /// A needlestick injury.
        NeedlestickInjury,
        /// Police attended.
        PoliceAttendance,
        /// The NPS "unresponsive, zombie-like" state.
        UnresponsiveState,
    }
);

vocabulary!(
    /// How serious an incident was.
    Severity else Moderate {
        /// Low.
        Low,
        /// Moderate.
        Moderate,
        /// Serious.
        Serious,
        /// Critical or fatal.
        Critical,
    }
);

vocabulary!(
    /// How an incident ended.
    IncidentOutcome {
        /// Recovered on site.
        RecoveredOnSite,
        /// Taken to hospital.
        TakenToHospital,
        /// Refused further help.
        RefusedHelp,
        /// Left before help arrived.
        LeftScene,
        /// Died.
        Died,
        /// Not known.
        Unknown,
    }
);

vocabulary!(
    /// The kind of service a referral goes to.
    ServiceType else Welfare {
        /// Drug and alcohol treatment.
        DrugAlcoholTreatment,
        /// A GP.
        Gp,
        /// Sexual health.
        SexualHealth,
        /// Housing (duty to refer).
        Housing,
        /// Mental health.
        MentalHealth,
        /// Accident and emergency.
        AccidentEmergency,
        /// Probation.
        Probation,
        /// LGBT services.
        Lgbt,
        /// Mutual aid.
        MutualAid,
        /// Welfare and benefits.
        Welfare,
    }
);

vocabulary!(
    /// How soon a referral must be acted on.
    Urgency {
        /// Routine.
        Routine,
        /// Within days.
        Soon,
        /// Today.
        Urgent,
        /// Now.
        Emergency,
    }
);

vocabulary!(
    /// Where a referral is in its life.
    ReferralStatus {
        /// Being written.
        Draft,
        /// Sent to the service.
        Sent,
        /// The service acknowledged it.
        Acknowledged,
        /// The service accepted it.
        Accepted,
        /// The service declined it.
        Declined,
        /// An appointment was booked.
        AppointmentBooked,
        /// The person attended.
        Attended,
        /// The person did not attend.
        DidNotAttend,
        /// Closed with an outcome.
        Closed,
        /// Withdrawn.
        Withdrawn,
        /// Expired without action.
        Expired,
    }
);

vocabulary!(
    /// What a person's consent is for.
    ConsentPurpose {
        /// Their care by the organisation that records it.
        DirectCare,
        /// Sharing their details with the partner services named, for a
        /// referral.
        ReferralSharing,
        /// Identifiable data in returns to commissioners.
        IdentifiableReturns,
        /// Showing the partner services named their identifiers (date of
        /// birth, NHS number, CHAIN id) with a referral, beyond the alias,
        /// initials, year of birth and risk flags a referral shares.
        IdentifiableSharing,
    }
);

vocabulary!(
    /// How consent was given or revoked.
    ConsentMethod {
        /// Said aloud to the worker recording it.
        Verbal,
        /// Signed on paper.
        Written,
        /// Given on a screen (a form, the device).
        Electronic,
    }
);

vocabulary!(
    /// How a closed referral ended, as the referral funnel counts it.
    ReferralOutcome {
        /// The person started with the service.
        EngagedWithService,
        /// The need was met another way.
        NeedMetElsewhere,
        /// The person chose not to go ahead.
        PersonDeclined,
        /// The service could not take the person.
        ServiceUnable,
        /// Contact with the person was lost.
        LostContact,
        /// The person moved out of the area.
        MovedAway,
        /// The person died.
        Died,
        /// Another outcome (say which in the note).
        Other,
    }
);

vocabulary!(
    /// Where kit is kept.
    StockLocationKind {
        /// A site's store room.
        Store,
        /// An outreach van.
        Van,
        /// An outreach worker's bag.
        Bag,
    }
);

vocabulary!(
    /// What a stock ledger entry records.
    StockEntryKind {
        /// Kit received from a supplier or a pharmacy (workers, managers).
        Receipt,
        /// Kit moved from one location to another (managers).
        Transfer,
        /// A count: the ledger books the difference (managers).
        Stocktake,
        /// Kit taken out of stock: expired, damaged, lost (managers).
        WriteOff,
    }
);

vocabulary!(
    /// Why stock was written off, or why a count differed.
    StockReason {
        /// Past its expiry date.
        Expired,
        /// Damaged or contaminated.
        Damaged,
        /// Lost or stolen.
        Lost,
        /// Handed out without being recorded.
        Unrecorded,
        /// More found than the ledger held.
        Found,
        /// The last count was wrong.
        Miscounted,
        /// Another reason (say which in the note).
        Other,
    }
);

vocabulary!(
    /// Whether a naloxone kit is the person's first or a repeat.
    NaloxoneSupplyKind {
        /// Their first kit.
        First,
        /// A repeat: say why.
        Repeat,
    }
);

vocabulary!(
    /// Why a repeat naloxone kit was needed.
    NaloxoneRepeatReason {
        /// The last kit was used on an overdose.
        UsedOnOverdose,
        /// Lost.
        Lost,
        /// Past its expiry date.
        Expired,
        /// Taken (police, prison, a hostel).
        Confiscated,
        /// Another reason.
        Other,
    }
);

vocabulary!(
    /// Who received a naloxone kit.
    NaloxoneRecipient {
        /// The person at risk of overdose.
        PersonAtRisk,
        /// A family member or friend.
        FamilyOrFriend,
        /// A worker (of this or another service).
        Worker,
        /// A service (a hostel, a shelter).
        Service,
    }
);

vocabulary!(
    /// When the recipient was trained to use naloxone.
    NaloxoneTraining {
        /// Trained at this contact.
        Now,
        /// Trained before.
        Before,
        /// Not trained.
        NotTrained,
    }
);
