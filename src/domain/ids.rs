//! Typed, time-ordered identifiers (UUIDv7).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new identifier, ordered after every one made before it.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// The identifier as a sortable integer (the store's key form).
            pub fn as_u128(self) -> u128 {
                self.0.as_u128()
            }

            pub fn from_u128(value: u128) -> Self {
                Self(Uuid::from_u128(value))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies a user account.
    UserId
);
id_type!(
    /// Identifies a container, job or image commit as the drivers know it.
    WorkloadId
);
id_type!(
    /// Identifies a project.
    ProjectId
);
id_type!(
    /// Identifies an application (project, period extension or quota).
    ApplicationId
);
id_type!(
    /// Identifies a mail in the outbox.
    MailId
);
id_type!(
    /// Identifies resources held inside a project by one workload.
    HoldId
);
id_type!(
    /// Identifies a GPU type of the catalog.
    GpuTypeId
);
id_type!(
    /// Identifies a hardware spec of the catalog.
    HardwareSpecId
);
id_type!(
    /// Identifies a public image of the catalog.
    ImageId
);
id_type!(
    /// Identifies a storage type of the catalog.
    StorageTypeId
);
id_type!(
    /// Identifies a project purpose of the catalog.
    PurposeId
);
id_type!(
    /// Identifies a storage volume of a project.
    VolumeId
);
id_type!(
    /// Identifies a user's SSH key pair.
    KeyPairId
);
id_type!(
    /// Identifies an order record: the id of the workload or volume it
    /// ordered.
    OrderId
);

id_type!(
    /// Identifies a job template of a project.
    JobTemplateId
);
id_type!(
    /// Identifies a job schedule of a project.
    JobScheduleId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_round_trip() {
        let first = UserId::generate();
        let second = UserId::generate();
        assert!(first < second);
        assert_eq!(UserId::from_u128(first.as_u128()), first);
        assert_eq!(first.to_string().parse::<UserId>().ok(), Some(first));
        assert!("not-an-id".parse::<UserId>().is_err());
    }
}
