//! The small vocabularies the whole server shares: roles, site kinds, API key
//! scopes, and what each role or scope permits.
//!
//! The database stores each value as its snake_case name; these enums are
//! the one place the names are defined.

use poem_openapi::{
    Enum,
    types::{ParseFromParameter, ToJSON},
};

/// What a user may do in their organisation.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users, sites, devices, API keys and the organisation.
    Admin,
    /// Runs a team: manages workers and viewers, sites and devices.
    Manager,
    /// Records contacts, kit, incidents and referrals in the field.
    Worker,
    /// Reads only.
    Viewer,
}

/// The kind of place or team a site is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[oai(rename_all = "snake_case")]
pub enum SiteKind {
    /// A drop-in day centre.
    DayCentre,
    /// A hostel with residents.
    Hostel,
    /// A night (winter or emergency) shelter.
    NightShelter,
    /// A street outreach team.
    OutreachTeam,
    /// A mobile van or bus.
    Van,
}

/// What an integrator's API key may do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKeyScope {
    /// Read the organisation and its sites.
    #[oai(rename = "directory:read")]
    DirectoryRead,
    /// Read the organisation's staff list.
    #[oai(rename = "users:read")]
    UsersRead,
    /// Read the organisation's registered devices.
    #[oai(rename = "devices:read")]
    DevicesRead,
    /// Read field records (people, contacts, incidents, referrals) and pull
    /// the change feed.
    #[oai(rename = "records:read")]
    RecordsRead,
    /// Create and change field records, and push mutations.
    #[oai(rename = "records:write")]
    RecordsWrite,
}

/// A capability an operation checks before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read the organisation and its sites.
    ReadDirectory,
    /// Create, edit and archive sites.
    ManageSites,
    /// Edit the organisation itself.
    ManageOrganisation,
    /// List and read staff accounts.
    ReadUsers,
    /// Create, edit and deactivate staff accounts.
    ManageUsers,
    /// List and read every device of the organisation.
    ReadDevices,
    /// Revoke any device of the organisation.
    ManageDevices,
    /// Create and revoke integrators' API keys.
    ManageApiKeys,
    /// Read the audit trail.
    ReadAudit,
    /// Read field records and pull the change feed.
    ReadRecords,
    /// Record and change field records.
    WriteRecords,
    /// Create, edit and archive reference data: the kit catalogue,
    /// substances and partner services (admins only).
    ManageReferenceData,
    /// Create and edit stock locations (managers and admins); transfers,
    /// stocktakes and write-offs follow the same rule in the ledger.
    ManageStock,
    /// See overdue referrals and the steps the server flagged (managers and
    /// admins).
    OverseeReferrals,
    /// Handle the referrals partner organisations send to this one: read
    /// them (as far as the person's consent allows) and record their steps
    /// (admins, managers, workers).
    HandleReferralInbox,
}

impl Role {
    /// Whether this role grants `permission`.
    pub fn grants(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Manager => matches!(
                permission,
                ReadDirectory
                    | ManageSites
                    | ReadUsers
                    | ManageUsers
                    | ReadDevices
                    | ManageDevices
                    | ReadRecords
                    | WriteRecords
                    | ManageStock
                    | OverseeReferrals
                    | HandleReferralInbox
            ),
            Role::Worker => matches!(
                permission,
                ReadDirectory | ReadRecords | WriteRecords | HandleReferralInbox
            ),
            Role::Viewer => matches!(permission, ReadDirectory | ReadRecords),
        }
    }

    /// Whether a user of this role may create or edit accounts of `target`'s
    /// role: managers handle workers and viewers only.
    pub fn may_manage(self, target: Role) -> bool {
        match self {
            Role::Admin => true,
            Role::Manager => matches!(target, Role::Worker | Role::Viewer),
            Role::Worker | Role::Viewer => false,
        }
    }
}

impl ApiKeyScope {
    /// Whether this scope grants `permission`.
    pub fn grants(self, permission: Permission) -> bool {
        matches!(
            (self, permission),
            (ApiKeyScope::DirectoryRead, Permission::ReadDirectory)
                | (ApiKeyScope::UsersRead, Permission::ReadUsers)
                | (ApiKeyScope::DevicesRead, Permission::ReadDevices)
                | (ApiKeyScope::RecordsRead, Permission::ReadRecords)
                | (ApiKeyScope::RecordsWrite, Permission::ReadRecords | Permission::WriteRecords)
        )
    }
}

/// Parses a stored snake_case name back into one of these enums.
pub fn parse_stored<T: ParseFromParameter>(value: &str) -> Result<T, String> {
    T::parse_from_parameter(value).map_err(|_| format!("unknown stored value `{value}`"))
}

/// The stored (and wire) name of one of these enums.
pub fn stored_name<T: ToJSON>(value: &T) -> String {
    match value.to_json() {
        Some(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}
