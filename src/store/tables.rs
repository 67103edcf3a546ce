//! Every table of the store, in one place. Keys that are ids use the id's
//! `u128` form (UUIDv7, so keys sort by creation time); values are records
//! encoded by `codec`.

use redb::{MultimapTableDefinition, TableDefinition};

/// Store metadata: `"schema_version"` -> the schema version number.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// User id -> `UserRecord`.
pub const USER_ID_TO_USER: TableDefinition<u128, &[u8]> = TableDefinition::new("user_id_to_user");

/// Unique index: username -> user id.
pub const USERNAME_TO_USER_ID: TableDefinition<&str, u128> =
    TableDefinition::new("username_to_user_id");

/// SHA-256 of a session cookie token -> `SessionRecord`. The token itself is
/// never stored, so a copy of the file does not hold live sessions.
pub const SESSION_TOKEN_HASH_TO_SESSION: TableDefinition<[u8; 32], &[u8]> =
    TableDefinition::new("session_token_hash_to_session");

/// Index: user id -> hashes of that user's session tokens.
pub const USER_ID_TO_SESSION_TOKEN_HASHES: MultimapTableDefinition<u128, [u8; 32]> =
    MultimapTableDefinition::new("user_id_to_session_token_hashes");

/// Project id -> `ProjectRecord`.
pub const PROJECT_ID_TO_PROJECT: TableDefinition<u128, &[u8]> =
    TableDefinition::new("project_id_to_project");

/// Index: user id -> ids of the projects the user is a member or manager of.
pub const USER_ID_TO_PROJECT_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("user_id_to_project_ids");

/// Application id -> `ApplicationRecord` (project, period extension, quota).
pub const APPLICATION_ID_TO_APPLICATION: TableDefinition<u128, &[u8]> =
    TableDefinition::new("application_id_to_application");

/// Index: applicant user id -> their application ids.
pub const USER_ID_TO_APPLICATION_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("user_id_to_application_ids");

/// Index: project id -> the project's application ids.
pub const PROJECT_ID_TO_APPLICATION_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("project_id_to_application_ids");

/// Index: ids of the applications waiting for an admin (status Reviewing).
pub const REVIEWING_APPLICATION_IDS: TableDefinition<u128, ()> =
    TableDefinition::new("reviewing_application_ids");

/// User id -> `ActivationRecord` (Cloud Provisioning status).
pub const USER_ID_TO_ACTIVATION: TableDefinition<u128, &[u8]> =
    TableDefinition::new("user_id_to_activation");

/// Mail id -> `MailRecord`: the durable outbox.
pub const MAIL_ID_TO_MAIL: TableDefinition<u128, &[u8]> = TableDefinition::new("mail_id_to_mail");

/// `"platform"` -> `PlatformSettingsRecord` (buffer length, reminder days, currency).
pub const PLATFORM_SETTINGS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("platform_settings");

/// GPU type id -> `GpuTypeRecord`.
pub const GPU_TYPE_ID_TO_GPU_TYPE: TableDefinition<u128, &[u8]> =
    TableDefinition::new("gpu_type_id_to_gpu_type");

/// Hardware spec id -> `HardwareSpecRecord`.
pub const HARDWARE_SPEC_ID_TO_SPEC: TableDefinition<u128, &[u8]> =
    TableDefinition::new("hardware_spec_id_to_spec");

/// Image id -> `ImageRecord` (public images with versions and services).
pub const IMAGE_ID_TO_IMAGE: TableDefinition<u128, &[u8]> =
    TableDefinition::new("image_id_to_image");

/// Storage type id -> `StorageTypeRecord`.
pub const STORAGE_TYPE_ID_TO_STORAGE_TYPE: TableDefinition<u128, &[u8]> =
    TableDefinition::new("storage_type_id_to_storage_type");

/// Purpose id -> `PurposeRecord`.
pub const PURPOSE_ID_TO_PURPOSE: TableDefinition<u128, &[u8]> =
    TableDefinition::new("purpose_id_to_purpose");

/// Unique index of catalog names: `"<kind>:<name>"` -> item id.
pub const CATALOG_NAME_TO_ID: TableDefinition<&str, u128> =
    TableDefinition::new("catalog_name_to_id");

/// Hold id -> `HoldRecord`: resources one workload holds inside a project.
/// The sum of a project's holds is its current use.
pub const HOLD_ID_TO_HOLD: TableDefinition<u128, &[u8]> = TableDefinition::new("hold_id_to_hold");

/// Index: project id -> ids of the holds inside it.
pub const PROJECT_ID_TO_HOLD_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("project_id_to_hold_ids");

/// Workload id -> `WorkloadRecord`: a container, job or image commit with its
/// desired state, what the cluster was last seen doing, the last error and
/// the recent events.
pub const WORKLOAD_ID_TO_WORKLOAD: TableDefinition<u128, &[u8]> =
    TableDefinition::new("workload_id_to_workload");

/// Index: project id -> ids of its workloads.
pub const PROJECT_ID_TO_WORKLOAD_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("project_id_to_workload_ids");

/// Unique index: (project id, workload name) -> workload id.
pub const PROJECT_WORKLOAD_NAME_TO_ID: TableDefinition<(u128, &str), u128> =
    TableDefinition::new("project_workload_name_to_id");

/// The reconcile loop's work list: (due time in Unix milliseconds, workload
/// id) for every workload whose desired state still has to be applied (a
/// scheduled container at its start time) or whose end time is to come.
pub const DUE_WORKLOAD_IDS: TableDefinition<(i64, u128), ()> =
    TableDefinition::new("due_workload_ids");

/// Volume id -> `VolumeRecord`: a project's storage volume, present or
/// being deleted, and whether the cluster has it ready.
pub const VOLUME_ID_TO_VOLUME: TableDefinition<u128, &[u8]> =
    TableDefinition::new("volume_id_to_volume");

/// Index: project id -> ids of its volumes.
pub const PROJECT_ID_TO_VOLUME_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("project_id_to_volume_ids");

/// Unique index: (project id, volume name) -> volume id.
pub const PROJECT_VOLUME_NAME_TO_ID: TableDefinition<(u128, &str), u128> =
    TableDefinition::new("project_volume_name_to_id");

/// The reconcile loop's work list of volumes, like `DUE_WORKLOAD_IDS`.
pub const DUE_VOLUME_IDS: TableDefinition<(i64, u128), ()> = TableDefinition::new("due_volume_ids");

/// Key pair id -> `KeyPairRecord`: a user's SSH public key with its name,
/// algorithm and fingerprint (private keys are never stored).
pub const KEY_PAIR_ID_TO_KEY_PAIR: TableDefinition<u128, &[u8]> =
    TableDefinition::new("key_pair_id_to_key_pair");

/// Index: user id -> ids of the user's key pairs.
pub const USER_ID_TO_KEY_PAIR_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("user_id_to_key_pair_ids");

/// Unique index: (user id, key pair name) -> key pair id.
pub const USER_KEY_PAIR_NAME_TO_ID: TableDefinition<(u128, &str), u128> =
    TableDefinition::new("user_key_pair_name_to_id");

/// Unique index: (user id, SHA-256 fingerprint) -> key pair id, so a user
/// cannot keep the same key twice.
pub const USER_KEY_PAIR_FINGERPRINT_TO_ID: TableDefinition<(u128, &str), u128> =
    TableDefinition::new("user_key_pair_fingerprint_to_id");

/// User id -> `TermsAcceptanceRecord`: the hash of the usage terms the user
/// last accepted, and when.
pub const USER_ID_TO_TERMS_ACCEPTANCE: TableDefinition<u128, &[u8]> =
    TableDefinition::new("user_id_to_terms_acceptance");

/// Custom image id (the id of the image commit workload that saves it) ->
/// `CustomImageRecord`: name, description, image and tag, type, services,
/// project and owner.
pub const CUSTOM_IMAGE_ID_TO_IMAGE: TableDefinition<u128, &[u8]> =
    TableDefinition::new("custom_image_id_to_image");

/// Index: project id -> ids of its custom images.
pub const PROJECT_ID_TO_CUSTOM_IMAGE_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("project_id_to_custom_image_ids");

/// Index: owner's user id -> ids of their custom images.
pub const USER_ID_TO_CUSTOM_IMAGE_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("user_id_to_custom_image_ids");

/// Unique index: (project id, `"<image name>:<tag>"`) -> custom image id.
pub const PROJECT_IMAGE_REF_TO_CUSTOM_IMAGE_ID: TableDefinition<(u128, &str), u128> =
    TableDefinition::new("project_image_ref_to_custom_image_id");

/// Index: (project id, container id) -> (owner's user id, name) of every
/// container: the container list filters, counts and pages it without
/// reading the records.
pub const PROJECT_CONTAINER_ID_TO_OWNER_NAME: TableDefinition<(u128, u128), (u128, &str)> =
    TableDefinition::new("project_container_id_to_owner_name");
/// Index: (project id, job id) -> (owner's user id, name) of every job:
/// the job list filters, counts and pages it without reading the records.
pub const PROJECT_JOB_ID_TO_OWNER_NAME: TableDefinition<(u128, u128), (u128, &str)> =
    TableDefinition::new("project_job_id_to_owner_name");
/// Order id (the id of the workload or volume ordered) -> `OrderRecord`:
/// what was created, by whom, in which project, its configuration and
/// hourly price at that time; kept after the workload is gone.
pub const ORDER_ID_TO_ORDER: TableDefinition<u128, &[u8]> =
    TableDefinition::new("order_id_to_order");

/// Index: user id -> ids of the orders they placed or that are theirs.
pub const USER_ID_TO_ORDER_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("user_id_to_order_ids");

/// Index: project id -> ids of its orders.
pub const PROJECT_ID_TO_ORDER_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("project_id_to_order_ids");

/// (workload id, start in Unix ms) -> end in Unix ms (`i64::MAX` while it
/// runs): when a container or job was seen running, kept after it is gone.
pub const WORKLOAD_RUN_INTERVALS: TableDefinition<(u128, i64), i64> =
    TableDefinition::new("workload_run_intervals");
/// Index: project id -> ids of its queued jobs (`WorkloadRecord::queued`),
/// in id order, which is the order of creation: the project's job queue.
pub const PROJECT_ID_TO_QUEUED_JOB_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("project_id_to_queued_job_ids");
/// (workload id, minute since the Unix epoch) -> a minute's GPU sample in
/// the fixed layout of `codec::encode_minute`; pruned after the retention.
pub const WORKLOAD_MINUTE_TO_SAMPLE: TableDefinition<(u128, u64), &[u8]> =
    TableDefinition::new("workload_minute_to_sample");

/// (workload id, hour since the Unix epoch) -> the hour's rollup in the fixed
/// layout of `codec::encode_hour` (measured minutes, GPU-minutes held and
/// used); kept for reports.
pub const WORKLOAD_HOUR_TO_ROLLUP: TableDefinition<(u128, u64), &[u8]> =
    TableDefinition::new("workload_hour_to_rollup");
/// The mail sender's work list: (next try in Unix milliseconds, mail id)
/// for every mail waiting for delivery (status Pending).
pub const DUE_MAIL_IDS: TableDefinition<(i64, u128), ()> = TableDefinition::new("due_mail_ids");
/// Job template id -> `JobTemplateRecord`: a job's GPU type and count,
/// spec, image and version (catalog ids), environment, command and shared
/// memory, with its project, owner and name.
pub const JOB_TEMPLATE_ID_TO_TEMPLATE: TableDefinition<u128, &[u8]> =
    TableDefinition::new("job_template_id_to_template");

/// Index: project id -> ids of its job templates.
pub const PROJECT_ID_TO_JOB_TEMPLATE_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("project_id_to_job_template_ids");

/// Unique index: (project id, template name) -> job template id.
pub const PROJECT_JOB_TEMPLATE_NAME_TO_ID: TableDefinition<(u128, &str), u128> =
    TableDefinition::new("project_job_template_name_to_id");

/// Job schedule id -> `JobScheduleRecord`: template, cron, zone, window,
/// concurrency, next run, and the newest runs, skips and failures.
pub const JOB_SCHEDULE_ID_TO_SCHEDULE: TableDefinition<u128, &[u8]> =
    TableDefinition::new("job_schedule_id_to_schedule");

/// Index: project id -> ids of its job schedules.
pub const PROJECT_ID_TO_JOB_SCHEDULE_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("project_id_to_job_schedule_ids");

/// Unique index: (project id, schedule name) -> job schedule id.
pub const PROJECT_JOB_SCHEDULE_NAME_TO_ID: TableDefinition<(u128, &str), u128> =
    TableDefinition::new("project_job_schedule_name_to_id");

/// Index: job template id -> ids of the schedules that run it (a template
/// in use is not deleted).
pub const JOB_TEMPLATE_ID_TO_SCHEDULE_IDS: MultimapTableDefinition<u128, u128> =
    MultimapTableDefinition::new("job_template_id_to_schedule_ids");

/// The schedule loop's list of next runs: (next run in Unix milliseconds,
/// job schedule id).
pub const DUE_JOB_SCHEDULE_IDS: TableDefinition<(i64, u128), ()> =
    TableDefinition::new("due_job_schedule_ids");

/// SHA-256 of an e-mail verification link's token -> `VerificationRecord`
/// (user, address, login or backup, expiry, when it was used).
pub const EMAIL_TOKEN_HASH_TO_VERIFICATION: TableDefinition<[u8; 32], &[u8]> =
    TableDefinition::new("email_token_hash_to_verification");

/// The audit log: (time in Unix ms, UUIDv7) -> `AuditEvent` (actor, client
/// address, action, target, outcome); pruned after the retention in days
/// (`META` `"audit_retention_days"`, 365 when unset).
pub const AUDIT_TIME_TO_EVENT: TableDefinition<(i64, u128), &[u8]> =
    TableDefinition::new("audit_time_to_event");
/// (workload id, minute since the Unix epoch) -> a container's CPU, memory
/// and network in that minute, in the fixed layout of `codec::encode_usage`;
/// pruned after the retention with the GPU minutes.
pub const WORKLOAD_MINUTE_TO_USAGE: TableDefinition<(u128, u64), &[u8]> =
    TableDefinition::new("workload_minute_to_usage");

/// Runs `$table` with `$t` bound to each table's definition and `$multimap`
/// with `$m` bound to each multimap table's: the one list of every table
/// (created at open, copied by a backup).
macro_rules! for_each_table {
    (|$t:ident| $table:expr, |$m:ident| $multimap:expr $(,)?) => {{
        {
            let $t = $crate::store::tables::META;
            $table;
        }
        {
            let $t = $crate::store::tables::USER_ID_TO_USER;
            $table;
        }
        {
            let $t = $crate::store::tables::USERNAME_TO_USER_ID;
            $table;
        }
        {
            let $t = $crate::store::tables::SESSION_TOKEN_HASH_TO_SESSION;
            $table;
        }
        {
            let $m = $crate::store::tables::USER_ID_TO_SESSION_TOKEN_HASHES;
            $multimap;
        }
        {
            let $t = $crate::store::tables::PROJECT_ID_TO_PROJECT;
            $table;
        }
        {
            let $m = $crate::store::tables::USER_ID_TO_PROJECT_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::APPLICATION_ID_TO_APPLICATION;
            $table;
        }
        {
            let $m = $crate::store::tables::USER_ID_TO_APPLICATION_IDS;
            $multimap;
        }
        {
            let $m = $crate::store::tables::PROJECT_ID_TO_APPLICATION_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::REVIEWING_APPLICATION_IDS;
            $table;
        }
        {
            let $t = $crate::store::tables::USER_ID_TO_ACTIVATION;
            $table;
        }
        {
            let $t = $crate::store::tables::MAIL_ID_TO_MAIL;
            $table;
        }
        {
            let $t = $crate::store::tables::PLATFORM_SETTINGS;
            $table;
        }
        {
            let $t = $crate::store::tables::GPU_TYPE_ID_TO_GPU_TYPE;
            $table;
        }
        {
            let $t = $crate::store::tables::HARDWARE_SPEC_ID_TO_SPEC;
            $table;
        }
        {
            let $t = $crate::store::tables::IMAGE_ID_TO_IMAGE;
            $table;
        }
        {
            let $t = $crate::store::tables::STORAGE_TYPE_ID_TO_STORAGE_TYPE;
            $table;
        }
        {
            let $t = $crate::store::tables::PURPOSE_ID_TO_PURPOSE;
            $table;
        }
        {
            let $t = $crate::store::tables::CATALOG_NAME_TO_ID;
            $table;
        }
        {
            let $t = $crate::store::tables::HOLD_ID_TO_HOLD;
            $table;
        }
        {
            let $m = $crate::store::tables::PROJECT_ID_TO_HOLD_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::WORKLOAD_ID_TO_WORKLOAD;
            $table;
        }
        {
            let $m = $crate::store::tables::PROJECT_ID_TO_WORKLOAD_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::PROJECT_WORKLOAD_NAME_TO_ID;
            $table;
        }
        {
            let $t = $crate::store::tables::DUE_WORKLOAD_IDS;
            $table;
        }
        {
            let $t = $crate::store::tables::VOLUME_ID_TO_VOLUME;
            $table;
        }
        {
            let $m = $crate::store::tables::PROJECT_ID_TO_VOLUME_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::PROJECT_VOLUME_NAME_TO_ID;
            $table;
        }
        {
            let $t = $crate::store::tables::DUE_VOLUME_IDS;
            $table;
        }
        {
            let $t = $crate::store::tables::KEY_PAIR_ID_TO_KEY_PAIR;
            $table;
        }
        {
            let $m = $crate::store::tables::USER_ID_TO_KEY_PAIR_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::USER_KEY_PAIR_NAME_TO_ID;
            $table;
        }
        {
            let $t = $crate::store::tables::USER_KEY_PAIR_FINGERPRINT_TO_ID;
            $table;
        }
        {
            let $t = $crate::store::tables::USER_ID_TO_TERMS_ACCEPTANCE;
            $table;
        }
        {
            let $t = $crate::store::tables::CUSTOM_IMAGE_ID_TO_IMAGE;
            $table;
        }
        {
            let $m = $crate::store::tables::PROJECT_ID_TO_CUSTOM_IMAGE_IDS;
            $multimap;
        }
        {
            let $m = $crate::store::tables::USER_ID_TO_CUSTOM_IMAGE_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::PROJECT_IMAGE_REF_TO_CUSTOM_IMAGE_ID;
            $table;
        }
        {
            let $t = $crate::store::tables::PROJECT_CONTAINER_ID_TO_OWNER_NAME;
            $table;
        }
        {
            let $t = $crate::store::tables::PROJECT_JOB_ID_TO_OWNER_NAME;
            $table;
        }
        {
            let $t = $crate::store::tables::ORDER_ID_TO_ORDER;
            $table;
        }
        {
            let $m = $crate::store::tables::USER_ID_TO_ORDER_IDS;
            $multimap;
        }
        {
            let $m = $crate::store::tables::PROJECT_ID_TO_ORDER_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::WORKLOAD_RUN_INTERVALS;
            $table;
        }
        {
            let $m = $crate::store::tables::PROJECT_ID_TO_QUEUED_JOB_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::WORKLOAD_MINUTE_TO_SAMPLE;
            $table;
        }
        {
            let $t = $crate::store::tables::WORKLOAD_HOUR_TO_ROLLUP;
            $table;
        }
        {
            let $t = $crate::store::tables::DUE_MAIL_IDS;
            $table;
        }
        {
            let $t = $crate::store::tables::JOB_TEMPLATE_ID_TO_TEMPLATE;
            $table;
        }
        {
            let $m = $crate::store::tables::PROJECT_ID_TO_JOB_TEMPLATE_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::PROJECT_JOB_TEMPLATE_NAME_TO_ID;
            $table;
        }
        {
            let $t = $crate::store::tables::JOB_SCHEDULE_ID_TO_SCHEDULE;
            $table;
        }
        {
            let $m = $crate::store::tables::PROJECT_ID_TO_JOB_SCHEDULE_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::PROJECT_JOB_SCHEDULE_NAME_TO_ID;
            $table;
        }
        {
            let $m = $crate::store::tables::JOB_TEMPLATE_ID_TO_SCHEDULE_IDS;
            $multimap;
        }
        {
            let $t = $crate::store::tables::DUE_JOB_SCHEDULE_IDS;
            $table;
        }
        {
            let $t = $crate::store::tables::EMAIL_TOKEN_HASH_TO_VERIFICATION;
            $table;
        }
        {
            let $t = $crate::store::tables::AUDIT_TIME_TO_EVENT;
            $table;
        }
        {
            let $t = $crate::store::tables::WORKLOAD_MINUTE_TO_USAGE;
            $table;
        }
    }};
}
pub(crate) use for_each_table;
