//! The one error shape that crosses a boundary: `{code, message, details?}`.
//!
//! Each module keeps its own error enum; [`ErrorBody::from`] maps them to a stable machine
//! code (for scripts, the HTTP listener and the UI), a sentence a person can act on, and
//! optional structured details. The CLI also derives its exit code from the code's family.

use serde::Serialize;
use serde_json::Value;

/// An error as the CLI (`--json`), the HTTP listener and the UI show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ErrorBody {
    /// A stable code (see [`Code`]).
    pub code: Code,
    /// What went wrong and what to do, for a person.
    pub message: String,
    /// Structured facts (the document, line, path …), when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// Why a value was refused, in words that name the field and the rule ("application name
/// \"Bad_Name\" must be a DNS label …"). What the domain's checks return; each front end's
/// error gives it a [`Code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl From<String> for Refused {
    fn from(reason: String) -> Self {
        Refused(reason)
    }
}

impl From<&str> for Refused {
    fn from(reason: &str) -> Self {
        Refused(reason.to_owned())
    }
}

/// Declares [`Code`]: each code's variant, its text, its [`Class`] and its HTTP status, in one
/// table, so that the three can never disagree.
macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $text:literal, $class:ident, $status:literal; )*) => {
        /// Every error code Tripline answers with: the CLI (`--json` and its exit status), the
        /// desktop app (the UI's generated bindings make it a union of these strings) and the
        /// listener's JSON bodies.
        ///
        /// Engine codes are `area.problem`. The listener's own codes (from [`Code::TokenMissing`]
        /// on) keep the spelling its callers have seen since it first answered: snake_case,
        /// without an area.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "specta", derive(specta::Type))]
        pub enum Code {
            $( $(#[doc = $doc])* #[serde(rename = $text)] $variant, )*
        }

        impl Code {
            /// Every code, in the table's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as it is written (`template.invalid`, `token_unknown`).
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $text),* }
            }

            /// The code's class, which gives the CLI's exit status.
            pub const fn class(self) -> Class {
                match self { $(Code::$variant => Class::$class),* }
            }

            /// The HTTP status the listener answers with this code.
            pub const fn http_status(self) -> u16 {
                match self { $(Code::$variant => $status),* }
            }
        }
    };
}

codes! {
    /// An application with this name exists.
    AppExists = "app.exists", Conflict, 409;
    /// No application has this name.
    AppNotFound = "app.not_found", NotFound, 404;
    /// The command line could not write its output or log file.
    CliIo = "cli.io", Internal, 500;
    /// No data directory could be found for this user.
    CliNoDataDir = "cli.no_data_dir", Invalid, 400;
    /// The command line could not start its async runtime.
    CliRuntime = "cli.runtime", Invalid, 400;
    /// The command line's arguments are wrong.
    CliUsage = "cli.usage", Invalid, 400;
    /// The kubeconfig cannot be read or used.
    ClusterKubeconfig = "cluster.kubeconfig", Invalid, 400;
    /// A real cluster was asked for and there is no kubeconfig.
    ClusterNoKubeconfig = "cluster.no_kubeconfig", Invalid, 400;
    /// No cluster (kubeconfig context) has this name.
    ClusterNotFound = "cluster.not_found", NotFound, 404;
    /// The built-in sandbox is not running in this process.
    ClusterSandboxNotRunning = "cluster.sandbox_not_running", Invalid, 400;
    /// The cluster did not answer.
    ClusterUnreachable = "cluster.unreachable", Invalid, 400;
    /// A deploy ran and failed.
    DeployFailed = "deploy.failed", DeployFailed, 500;
    /// A deploy was cut short (Tripline stopped while it ran).
    DeployInterrupted = "deploy.interrupted", DeployFailed, 500;
    /// No deploy workers run here: a Tripline opened for one command starts them when it
    /// deploys.
    DeployNoWorkers = "deploy.no_workers", Internal, 500;
    /// The editor the command line opened failed.
    InputEditor = "input.editor", Invalid, 400;
    /// The input is not what the command expects.
    InputInvalid = "input.invalid", Invalid, 400;
    /// The input could not be read.
    InputIo = "input.io", Internal, 500;
    /// A required input is missing.
    InputMissing = "input.missing", Invalid, 400;
    /// The listener's address does not parse.
    ListenerAddress = "listener.address", Invalid, 400;
    /// The listener cannot bind its address.
    ListenerBind = "listener.bind", Invalid, 400;
    /// The listener's public URL is not an http(s) URL.
    ListenerPublicUrl = "listener.public_url", Invalid, 400;
    /// A trusted proxy is not an address or a network.
    ListenerTrustedProxy = "listener.trusted_proxy", Invalid, 400;
    /// The patch names more than one object of the kind and no name.
    PatchAmbiguous = "patch.ambiguous", Invalid, 400;
    /// The patch is empty.
    PatchEmpty = "patch.empty", Invalid, 400;
    /// The patch changes an object's kind, name or namespace.
    PatchIdentityChanged = "patch.identity_changed", Invalid, 400;
    /// The patched template would be invalid; nothing was saved.
    PatchInvalidResult = "patch.invalid_result", Invalid, 400;
    /// An RFC 6902 operation failed.
    PatchJsonPatch = "patch.json_patch", Invalid, 400;
    /// The patch names a kind the template does not have.
    PatchKindNotInTemplate = "patch.kind_not_in_template", Invalid, 400;
    /// The patch names an object the template does not have.
    PatchResourceMissing = "patch.resource_missing", Invalid, 400;
    /// The patch has the wrong shape for its type.
    PatchShape = "patch.shape", Invalid, 400;
    /// A strategic merge failed.
    PatchStrategic = "patch.strategic", Invalid, 400;
    /// The patch is not valid JSON or YAML.
    PatchSyntax = "patch.syntax", Invalid, 400;
    /// The patch is over the size limit.
    PatchTooLarge = "patch.too_large", Invalid, 400;
    /// The patch type is not one Tripline applies.
    PatchUnsupportedType = "patch.unsupported_type", Invalid, 400;
    /// No access record has this id.
    RecordNotFound = "record.not_found", NotFound, 404;
    /// The registry credentials in the Docker configuration, its credential helper or the secret store cannot be used.
    RegistryCredentials = "registry.credentials", Invalid, 400;
    /// Credentials would go to a registry over plain HTTP on another machine; they were not sent.
    RegistryInsecure = "registry.insecure", Invalid, 400;
    /// The registry answered, but not as the distribution API says (or more than Tripline reads).
    RegistryInvalid = "registry.invalid", Invalid, 502;
    /// The registry has no such repository or tag.
    RegistryNotFound = "registry.not_found", NotFound, 404;
    /// The registry is rate limiting requests; `details.retryAt` says when to try again.
    RegistryRateLimited = "registry.rate_limited", Invalid, 429;
    /// The registry host or repository is not one Tripline can reach.
    RegistryReference = "registry.reference", Invalid, 400;
    /// The registry refused the credentials, or wants some.
    RegistryUnauthorized = "registry.unauthorized", Invalid, 502;
    /// The registry did not answer, or answered with a server error.
    RegistryUnreachable = "registry.unreachable", Invalid, 502;
    /// A sandbox already runs in this data directory.
    SandboxExists = "sandbox.exists", Conflict, 409;
    /// The sandbox's files cannot be read or written.
    SandboxIo = "sandbox.io", Internal, 500;
    /// The sandbox did not start.
    SandboxStart = "sandbox.start", Invalid, 400;
    /// The OS keyring (or the secrets folder) cannot be used.
    SecretsUnavailable = "secrets.unavailable", Invalid, 400;
    /// The source's server refused the credentials (or asked for some).
    SourceAuth = "source.auth", Invalid, 502;
    /// A write-back to the source conflicts with what is there now; nothing was forced.
    SourceConflict = "source.conflict", Conflict, 409;
    /// A fetched chart's digest is not the one its index or registry states.
    SourceDigestMismatch = "source.digest_mismatch", Invalid, 502;
    /// What the source holds cannot be deployed (bad YAML, a broken chart, bad values).
    SourceInvalid = "source.invalid", Invalid, 422;
    /// The source has no such branch, tag, commit, path, chart or chart version.
    SourceNotFound = "source.not_found", NotFound, 404;
    /// The source sent more than Tripline accepts.
    SourceTooLarge = "source.too_large", Invalid, 502;
    /// A tool the source needs (`helm`, `kubectl`) is not installed.
    SourceToolMissing = "source.tool_missing", Internal, 500;
    /// The source's server did not answer, or answered with an error.
    SourceUnreachable = "source.unreachable", Invalid, 502;
    /// The source's address or setting is not one Tripline can use.
    SourceUnsupported = "source.unsupported", Invalid, 400;
    /// The desktop app's settings file cannot be read or written.
    SettingsIo = "settings.io", Internal, 500;
    /// The database is busy (another process holds its lock).
    StoreBusy = "store.busy", Conflict, 503;
    /// The database's file is damaged.
    StoreCorrupt = "store.corrupt", Internal, 500;
    /// The database failed.
    StoreDatabase = "store.database", Internal, 503;
    /// The database's folder cannot be used.
    StoreIo = "store.io", Internal, 500;
    /// The database was written by a newer Tripline.
    StoreNewerSchema = "store.newer_schema", Internal, 500;
    /// No data directory could be found for this user.
    StoreNoDataDir = "store.no_data_dir", Invalid, 400;
    /// A template document is over the size limit.
    TemplateDocumentTooLarge = "template.document_too_large", Invalid, 400;
    /// Two documents of the template are the same object.
    TemplateDuplicate = "template.duplicate", Invalid, 400;
    /// The template has no objects.
    TemplateEmpty = "template.empty", Invalid, 400;
    /// A template with this name exists.
    TemplateExists = "template.exists", Conflict, 409;
    /// An application uses the template.
    TemplateInUse = "template.in_use", Conflict, 409;
    /// An object of the template is not valid Kubernetes.
    TemplateInvalid = "template.invalid", Invalid, 400;
    /// No template has this name.
    TemplateNotFound = "template.not_found", NotFound, 404;
    /// The template is not UTF-8.
    TemplateNotUtf8 = "template.not_utf8", Invalid, 400;
    /// A document is over a structural limit (depth, nodes, aliases).
    TemplateOverLimit = "template.over_limit", Invalid, 400;
    /// The template cannot be written back as YAML.
    TemplateRender = "template.render", Invalid, 400;
    /// The template is over the size limit.
    TemplateTooLarge = "template.too_large", Invalid, 400;
    /// The template has too many documents.
    TemplateTooManyDocuments = "template.too_many_documents", Invalid, 400;
    /// The template is not valid YAML.
    TemplateYaml = "template.yaml", Invalid, 400;
    /// A trigger with this name exists.
    TriggerExists = "trigger.exists", Conflict, 409;
    /// The trigger cannot work (for example, its workload is not in the template).
    TriggerInvalid = "trigger.invalid", Invalid, 400;
    /// A tag pattern is not a valid regular expression, or a semver range does not parse.
    TriggerInvalidPattern = "trigger.invalid_pattern", Invalid, 400;
    /// No trigger has this name.
    TriggerNotFound = "trigger.not_found", NotFound, 404;
    /// The trigger is not signed, so it has no signing key.
    TriggerNotSigned = "trigger.not_signed", Invalid, 400;
    /// The template has no version with this number.
    VersionNotFound = "version.not_found", NotFound, 404;

    /// The URL has no token.
    TokenMissing = "token_missing", Invalid, 401;
    /// No trigger has this token.
    TokenUnknown = "token_unknown", NotFound, 404;
    /// Too many bad tokens from this address or with this prefix.
    Throttled = "throttled", Invalid, 429;
    /// The listener has too many connections open.
    TooManyConnections = "too_many_connections", Internal, 503;
    /// The database cannot be read.
    StorageUnavailable = "storage_unavailable", Internal, 503;
    /// The trigger's signing key cannot be read.
    SigningKeyUnavailable = "secrets_unavailable", Internal, 503;
    /// The registry has no such tag: the push is not acted on.
    ImageNotInRegistry = "image_not_in_registry", Invalid, 422;
    /// The push names a digest the registry contradicts: it is not acted on.
    DigestDisagrees = "digest_disagrees", Conflict, 409;
    /// The registry could not be reached to verify the push, within the retries; nothing was
    /// done, and the caller may deliver it again (`Retry-After`).
    VerifyUnreachable = "registry_unreachable", Internal, 503;
    /// The registry refused to say what the pushed tag is (credentials, a bad answer).
    VerifyRefused = "registry_refused", Invalid, 502;
    /// The trigger is disabled.
    TriggerDisabled = "trigger_disabled", Conflict, 409;
    /// The trigger's application is on hold.
    AppOnHold = "app_on_hold", Conflict, 409;
    /// The trigger is signed and the call has no signature.
    SignatureMissing = "signature_missing", Invalid, 401;
    /// The call's signature does not match its body.
    SignatureInvalid = "signature_invalid", Invalid, 401;
    /// The body is over the listener's limit.
    BodyTooLarge = "body_too_large", Invalid, 413;
    /// The body did not arrive in time.
    BodyTimeout = "body_timeout", Invalid, 408;
    /// The body could not be read.
    BodyUnreadable = "body_unreadable", Invalid, 400;
    /// The call needs a body and has none.
    BodyMissing = "body_missing", Invalid, 400;
    /// The call must not have a body.
    BodyNotAllowed = "body_not_allowed", Invalid, 400;
    /// A query parameter has a wrong value.
    BadParameter = "bad_parameter", Invalid, 400;
    /// A required query parameter is missing.
    MissingParameter = "missing_parameter", Invalid, 400;
    /// The body's patch cannot be applied.
    BadPatch = "bad_patch", Invalid, 400;
    /// The registry notification cannot be read.
    BadPayload = "bad_payload", Invalid, 400;
    /// The body's media type is not one the hook reads.
    UnsupportedMediaType = "unsupported_media_type", Invalid, 415;
    /// The token belongs to a trigger called at the other hook.
    WrongHook = "wrong_hook", Invalid, 400;
    /// The call asks the trigger for what its kind does not do.
    WrongTrigger = "wrong_trigger", Invalid, 400;
}

/// The broad class of an error, which decides the CLI's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The input is wrong (bad YAML, bad patch, bad name).
    Invalid,
    /// Something named does not exist.
    NotFound,
    /// The request conflicts with what exists (name taken, template in use).
    Conflict,
    /// Storage or the system failed.
    Internal,
    /// A deploy ran and failed.
    DeployFailed,
}

impl Class {
    /// The CLI exit code for this class (documented in the README).
    pub fn exit_code(self) -> u8 {
        match self {
            Class::Internal => 1,
            Class::Invalid => 3,
            Class::NotFound => 4,
            Class::Conflict => 5,
            Class::DeployFailed => 6,
        }
    }
}

impl ErrorBody {
    /// Builds a body with no details.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The class, from the code.
    pub fn class(&self) -> Class {
        self.code.class()
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code compares equal to its text, so a test can say `assert_eq!(error.code, "app.exists")`.
impl PartialEq<&str> for Code {
    fn eq(&self, text: &&str) -> bool {
        self.as_str() == *text
    }
}

/// Every module error that has a [`From<&E>`] conversion also converts by value, so `?` and
/// `map_err(ErrorBody::from)` work at every boundary.
macro_rules! owned_from {
    ($($error:ty),* $(,)?) => {
        $(impl From<$error> for ErrorBody {
            fn from(error: $error) -> Self {
                ErrorBody::from(&error)
            }
        })*
    };
}

owned_from!(
    crate::template::Error,
    crate::patch::Error,
    crate::store::Error,
    crate::cluster::Error,
    crate::trigger::service::Error,
);

impl From<&crate::template::Error> for ErrorBody {
    fn from(error: &crate::template::Error) -> Self {
        use crate::template::Error as E;
        let message = error.to_string();
        let (code, details) = match error {
            E::NotUtf8 { line, column } => (
                Code::TemplateNotUtf8,
                Some(serde_json::json!({"line": line, "column": column})),
            ),
            E::TooLarge { size, limit } => (
                Code::TemplateTooLarge,
                Some(serde_json::json!({"size": size, "limit": limit})),
            ),
            E::TooManyDocuments { limit } => (
                Code::TemplateTooManyDocuments,
                Some(serde_json::json!({"limit": limit})),
            ),
            E::DocumentTooLarge { index, line, .. } => (
                Code::TemplateDocumentTooLarge,
                Some(serde_json::json!({"document": index, "line": line})),
            ),
            E::Yaml {
                index,
                line,
                column,
                ..
            } => (
                Code::TemplateYaml,
                Some(serde_json::json!({"document": index, "line": line, "column": column})),
            ),
            E::NotAnObject { index, line, .. } | E::Invalid { index, line, .. } => (
                Code::TemplateInvalid,
                Some(serde_json::json!({"document": index, "line": line})),
            ),
            E::Duplicate { index, line, .. } => (
                Code::TemplateDuplicate,
                Some(serde_json::json!({"document": index, "line": line})),
            ),
            E::OverLimit {
                index,
                line,
                limit,
                value,
                max,
                ..
            } => (
                Code::TemplateOverLimit,
                Some(serde_json::json!({
                    "document": index, "line": line, "limit": limit.as_str(),
                    "value": value, "max": max,
                })),
            ),
            E::Rejected {
                index,
                line,
                problems,
                ..
            } => (
                Code::TemplateInvalid,
                Some(serde_json::json!({
                    "document": index,
                    "line": line,
                    "problems": problems.iter().map(|p| serde_json::json!({
                        "field": p.field, "reason": p.reason, "message": p.message, "line": p.line,
                    })).collect::<Vec<_>>(),
                })),
            ),
            E::Empty => (Code::TemplateEmpty, None),
            E::Render { .. } => (Code::TemplateRender, None),
        };
        ErrorBody {
            code,
            message,
            details,
        }
    }
}

impl From<&crate::patch::Error> for ErrorBody {
    fn from(error: &crate::patch::Error) -> Self {
        use crate::patch::Error as E;
        let message = error.to_string();
        let code = match error {
            E::TooLarge { .. } => Code::PatchTooLarge,
            E::Empty => Code::PatchEmpty,
            E::Syntax { .. } => Code::PatchSyntax,
            E::Shape(_) => Code::PatchShape,
            E::UnsupportedType(_) => Code::PatchUnsupportedType,
            E::KindNotInTemplate { .. } => Code::PatchKindNotInTemplate,
            E::ResourceNotFound { .. } => Code::PatchResourceMissing,
            E::Ambiguous { .. } => Code::PatchAmbiguous,
            E::Strategic { .. } => Code::PatchStrategic,
            E::JsonPatch { .. } => Code::PatchJsonPatch,
            E::IdentityChanged { .. } => Code::PatchIdentityChanged,
            E::Invalid(inner) => {
                let mut body = ErrorBody::from(inner);
                body.code = Code::PatchInvalidResult;
                body.message = message;
                return body;
            }
        };
        let details = match error {
            E::Strategic { source, .. } => Some(serde_json::json!({"path": source.path})),
            E::Syntax { line, column, .. } => {
                Some(serde_json::json!({"line": line, "column": column}))
            }
            _ => None,
        };
        ErrorBody {
            code,
            message,
            details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/ERRORS.md`, the codes' documentation.
    const DOCUMENTED: &str =
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ERRORS.md"));

    #[test]
    fn every_code_is_documented_with_its_http_status_and_exit_code() {
        // Rows `| `code` | HTTP | exit | meaning |`, in the order of the table in this file.
        let rows: Vec<(String, u16, u8)> = DOCUMENTED
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((
                    code.to_owned(),
                    cells.get(2)?.parse().ok()?,
                    cells.get(3)?.parse().ok()?,
                ))
            })
            .collect();
        let table: Vec<(String, u16, u8)> = Code::ALL
            .iter()
            .map(|code| {
                let (status, exit) = (code.http_status(), code.class().exit_code());
                (code.as_str().to_owned(), status, exit)
            })
            .collect();
        for row in &table {
            assert!(
                rows.contains(row),
                "docs/ERRORS.md lacks {row:?} (code, HTTP, exit)"
            );
        }
        for row in &rows {
            assert!(
                table.contains(row),
                "docs/ERRORS.md lists {row:?}, which Code does not have"
            );
        }
    }

    #[test]
    fn codes_are_unique_and_serialise_as_their_text() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            let back: Code = serde_json::from_value(code.as_str().into()).unwrap();
            assert_eq!(back, *code);
            assert!(
                (400..600).contains(&code.http_status()),
                "{code}: an error's status is 4xx or 5xx"
            );
        }
    }

    #[test]
    fn an_error_body_names_its_code_as_text() {
        let body = ErrorBody::new(Code::PatchResourceMissing, "no such Deployment");
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["code"], "patch.resource_missing");
        assert_eq!(body.class().exit_code(), 3);
    }
}
