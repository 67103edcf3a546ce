//! Custom images (manual §4.4, §8.1): a Running container saved as an image
//! its owner (Private) or every member of its project (Project) can start
//! new containers from. The form's rules and the image's type and status;
//! the save itself is an image commit workload (`workload::ImageCommitSpec`).
//! Validation messages are translation keys (`image.error.*`) whose text
//! states the real limits.

use serde::{Deserialize, Serialize};

use super::validation::FieldErrors;
use super::workload::{ImageRef, WorkloadStatus};

/// Longest display name, in characters.
pub const NAME_MAX: usize = 64;
/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 500;
/// Shortest and longest image name and tag, in characters (the manual's).
pub const IMAGE_NAME_MIN: usize = 2;
pub const IMAGE_NAME_MAX: usize = 128;
pub const TAG_MIN: usize = 2;
pub const TAG_MAX: usize = 128;

/// Who may start containers from a custom image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageType {
    /// Only its owner.
    Private,
    /// Every member of its project.
    Project,
}

impl ImageType {
    pub fn parse(value: &str) -> Option<ImageType> {
        match value {
            "private" => Some(ImageType::Private),
            "project" => Some(ImageType::Project),
            _ => None,
        }
    }

    /// The form value.
    pub fn code(self) -> &'static str {
        match self {
            ImageType::Private => "private",
            ImageType::Project => "project",
        }
    }
}

/// Where a custom image is: being saved, usable, or failed to save.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStatus {
    Building,
    Ready,
    Failed,
}

impl ImageStatus {
    /// The status of the image whose commit workload is in `commit`: it
    /// follows the commit (Succeeded: Ready; failed or stopped: Failed).
    pub fn of_commit(commit: &WorkloadStatus) -> ImageStatus {
        match commit {
            WorkloadStatus::Scheduled
            | WorkloadStatus::Queued
            | WorkloadStatus::Creating
            | WorkloadStatus::Running => ImageStatus::Building,
            WorkloadStatus::Succeeded => ImageStatus::Ready,
            WorkloadStatus::Stopping | WorkloadStatus::Stopped | WorkloadStatus::Failed { .. } => {
                ImageStatus::Failed
            }
        }
    }
}

/// What a user asks for when saving a container as a custom image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomImageForm {
    pub name: String,
    pub description: String,
    pub image_name: String,
    pub tag: String,
    pub image_type: Option<ImageType>,
}

/// A checked form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomImageRequest {
    pub name: String,
    pub description: String,
    pub image: ImageRef,
    pub image_type: ImageType,
}

/// An image name: 2 to 128 lowercase letters, digits, '_' and '-'.
pub fn is_custom_image_name(name: &str) -> bool {
    (IMAGE_NAME_MIN..=IMAGE_NAME_MAX).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// An image tag: 2 to 128 letters, digits, '.', '_' and '-', not starting
/// with '-' or '.'.
pub fn is_custom_image_tag(tag: &str) -> bool {
    (TAG_MIN..=TAG_MAX).contains(&tag.len())
        && !tag.starts_with(['-', '.'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
}

impl CustomImageForm {
    /// Checks every field; the name and description are trimmed.
    pub fn validate(&self) -> Result<CustomImageRequest, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control)
        {
            errors.add("name", "image.error.name");
        }
        let description = self.description.trim();
        if description.chars().count() > DESCRIPTION_MAX
            || description
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r')
        {
            errors.add("description", "image.error.description");
        }
        if !is_custom_image_name(&self.image_name) {
            errors.add("image_name", "image.error.image_name");
        }
        if !is_custom_image_tag(&self.tag) {
            errors.add("tag", "image.error.tag");
        }
        if self.image_type.is_none() {
            errors.add("image_type", "image.error.image_type");
        }
        let image_type = self.image_type.unwrap_or(ImageType::Private);
        errors.into_result(CustomImageRequest {
            name: name.to_owned(),
            description: description.to_owned(),
            image: ImageRef {
                name: self.image_name.clone(),
                tag: self.tag.clone(),
            },
            image_type,
        })
    }
}

/// The start of every custom image's reference.
pub const TARGET_PREFIX: &str = "custom/";

/// Where a project's custom image is pushed and pulled, under the
/// configured registry: `custom/<project code>/<image name>`, so that two
/// projects' images of the same name never meet. A container whose image
/// is such a reference runs the custom image (the local driver unpacks the
/// saved working directory of its project's commit of that reference).
pub fn commit_target(project_code: &str, image: &ImageRef) -> ImageRef {
    ImageRef {
        name: format!(
            "{TARGET_PREFIX}{}/{}",
            project_code.to_lowercase(),
            image.name
        ),
        tag: image.tag.clone(),
    }
}

/// Whether a container's image is a custom image.
pub fn is_custom_target(image: &ImageRef) -> bool {
    image.name.starts_with(TARGET_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::workload::FailureReason;

    fn form() -> CustomImageForm {
        CustomImageForm {
            name: " iris ".into(),
            description: "For Iris dataset classification".into(),
            image_name: "sklearn-svm_iris".into(),
            tag: "v1.0".into(),
            image_type: Some(ImageType::Project),
        }
    }

    #[test]
    fn a_good_form_is_trimmed() {
        let request = form().validate().expect("valid");
        assert_eq!(request.name, "iris");
        assert_eq!(request.image.to_string(), "sklearn-svm_iris:v1.0");
        assert_eq!(request.image_type, ImageType::Project);
    }

    #[test]
    fn image_names_follow_the_manual() {
        for good in ["ab", "a-b_c", "9x", &"a".repeat(128)] {
            assert!(is_custom_image_name(good), "{good}");
        }
        for bad in ["a", "", "Ab", "a.b", "a/b", "a b", &"a".repeat(129), "é"] {
            assert!(!is_custom_image_name(bad), "{bad}");
        }
    }

    #[test]
    fn tags_follow_the_manual() {
        for good in ["v1", "V1.0_rc-2", "1.2", &"t".repeat(128)] {
            assert!(is_custom_image_tag(good), "{good}");
        }
        for bad in ["v", "", "-v1", ".v1", "v 1", "v:1", &"t".repeat(129)] {
            assert!(!is_custom_image_tag(bad), "{bad}");
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        let bad = CustomImageForm {
            name: "  ".into(),
            description: "x".repeat(DESCRIPTION_MAX + 1),
            image_name: "Bad Name".into(),
            tag: "-v1".into(),
            image_type: None,
        };
        let errors = bad.validate().expect_err("refused");
        assert_eq!(errors.get("name"), Some("image.error.name"));
        assert_eq!(errors.get("description"), Some("image.error.description"));
        assert_eq!(errors.get("image_name"), Some("image.error.image_name"));
        assert_eq!(errors.get("tag"), Some("image.error.tag"));
        assert_eq!(errors.get("image_type"), Some("image.error.image_type"));
    }

    #[test]
    fn the_status_follows_the_commit() {
        assert_eq!(
            ImageStatus::of_commit(&WorkloadStatus::Creating),
            ImageStatus::Building
        );
        assert_eq!(
            ImageStatus::of_commit(&WorkloadStatus::Running),
            ImageStatus::Building
        );
        assert_eq!(
            ImageStatus::of_commit(&WorkloadStatus::Succeeded),
            ImageStatus::Ready
        );
        assert_eq!(
            ImageStatus::of_commit(&WorkloadStatus::failed(FailureReason::Lost)),
            ImageStatus::Failed
        );
    }

    #[test]
    fn targets_are_per_project() {
        let image = ImageRef {
            name: "iris".into(),
            tag: "v1".into(),
        };
        let target = commit_target("Lab01", &image);
        assert_eq!(target.to_string(), "custom/lab01/iris:v1");
        assert!(crate::domain::catalog::is_image_name(&target.name));
        assert!(is_custom_target(&target));
        assert!(!is_custom_target(&image));
    }
}
