//! Creating, rotating and describing triggers: the store for the row, the secret store for
//! the token (and HMAC key). The token leaves here only in the returned [`Created`].
//!
//! Front ends call these through [`crate::api::Tripline`]; the module stays public for the
//! engine's integration tests and benchmarks, which make triggers without a façade.

use serde::Serialize;

use super::{
    Trigger, new_signing_key, new_token, signing_secret_name, token_hash, token_hint,
    token_secret_name,
};
use crate::error::Code;
use crate::secrets::Secrets;
use crate::store::{self, NewTrigger, Store};

/// Errors from trigger management.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The trigger is not one that can work: its own settings, or its application's
    /// template (it names a workload or repository the template lacks).
    #[error("{0}")]
    Invalid(String),
    /// The database refused.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// The secret store refused.
    #[error("cannot keep the trigger's token: {0}")]
    Secrets(#[from] crate::secrets::Error),
}

impl From<&Error> for crate::error::ErrorBody {
    fn from(error: &Error) -> Self {
        match error {
            Error::Invalid(message) => {
                crate::error::ErrorBody::new(Code::TriggerInvalid, message.clone())
            }
            Error::Store(e) => e.into(),
            Error::Secrets(e) => crate::error::ErrorBody::new(
                Code::SecretsUnavailable,
                format!(
                    "{e}; without a keyring, `tripline serve --secrets files` keeps tokens in owner-only files"
                ),
            ),
        }
    }
}

/// A trigger just made or rotated, with its token (shown once; also in the secret store).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Created {
    /// The trigger.
    pub trigger: Trigger,
    /// The token.
    pub token: String,
    /// The HMAC key, for signed triggers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<String>,
}

/// Makes a trigger: a token (and HMAC key) in the secret store, the row in the database.
/// If the database refuses, the secrets are removed again. A trigger that could never
/// fire — invalid settings, settings for another kind of source (a write-back branch on a
/// Helm application), or a workload or repository its application's template lacks — is
/// refused first, whichever front end asks.
pub fn create(store: &mut Store, secrets: &Secrets, new: &NewTrigger) -> Result<Created, Error> {
    new.kind
        .validate()
        .map_err(|refused| Error::Invalid(refused.0))?;
    let application = store.app(&new.app)?;
    if let Some(why) = super::unfit_for_source(&new.kind, &new.app, &application.source) {
        return Err(Error::Invalid(why));
    }
    if let Some(template) = application.source.template() {
        let latest = store.version(template, None)?;
        let manifest = crate::template::Manifest::parse(&latest.content)
            .map_err(|e| Error::Store(e.into()))?;
        if let Some(why) = super::unfit_for_template(&new.kind, template, &manifest) {
            return Err(Error::Invalid(why));
        }
    }
    let token = new_token();
    secrets.set(&token_secret_name(&new.name), &token)?;
    let signing_key = if new.signed {
        let key = new_signing_key();
        if let Err(e) = secrets.set(&signing_secret_name(&new.name), &key) {
            let _ = secrets.delete(&token_secret_name(&new.name));
            return Err(e.into());
        }
        Some(key)
    } else {
        None
    };
    match store.create_trigger(new, &token_hash(&token), &token_hint(&token)) {
        Ok(trigger) => Ok(Created {
            trigger,
            token,
            signing_key,
        }),
        Err(error) => {
            // Only remove secrets we created: a name clash must not delete the owner's.
            if !matches!(error, store::Error::TriggerExists(_)) {
                let _ = secrets.delete(&token_secret_name(&new.name));
                let _ = secrets.delete(&signing_secret_name(&new.name));
            }
            Err(error.into())
        }
    }
}

/// Replaces a trigger's token; the old one stops working at once.
pub fn rotate(store: &mut Store, secrets: &Secrets, name: &str) -> Result<Created, Error> {
    store.trigger(name)?;
    let token = new_token();
    secrets.set(&token_secret_name(name), &token)?;
    let trigger = store.rotate_trigger(name, &token_hash(&token), &token_hint(&token))?;
    Ok(Created {
        trigger,
        token,
        signing_key: None,
    })
}

/// Deletes a trigger and its secrets.
pub fn delete(store: &mut Store, secrets: &Secrets, name: &str) -> Result<(), Error> {
    store.delete_trigger(name)?;
    let _ = secrets.delete(&token_secret_name(name));
    let _ = secrets.delete(&signing_secret_name(name));
    Ok(())
}

/// The trigger's URL with its token, from the secret store.
pub fn url(secrets: &Secrets, trigger: &Trigger, base: &str) -> Result<String, Error> {
    let token = secrets.get(&token_secret_name(&trigger.name))?;
    Ok(super::url_with_token(trigger, base, &token))
}
