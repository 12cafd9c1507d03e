//! The trust list (spec §5): which makers, repair desks and event hosts the ledger operator
//! vouches for, and when. One COSE_Sign1 signed by the operator's key over the whole list, so
//! no entry (a revocation, say) can be dropped without breaking the signature.

use std::collections::HashMap;
use std::fmt;

use ciborium::Value;

use crate::cbor::{self, IntMap};
use crate::cose::{self, Envelope};
use crate::error::{DecodeError, TrustError};
use crate::ids::Timestamp;
use crate::keys::{KeyId, PublicKey, SigningKey};
use crate::limits::{MAX_TEXT_BYTES, MAX_TRUST_ENTRIES, MAX_TRUST_LIST_BYTES};

/// The trust list's kind number (payload key 1), distinct from every record kind.
const TRUST_LIST_KIND: u64 = 16;
/// `external_aad` of the trust list signature: domain separation from records.
const TRUST_LIST_AAD: &[u8] = b"provenance/v1 trust-list";

/// A role the operator can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Registers runs and mints items (bit 1).
    Maker,
    /// Appends repair records (bit 2).
    Repairer,
    /// Appends attendance badges (bit 4).
    Host,
}

impl Role {
    fn bit(self) -> u64 {
        match self {
            Role::Maker => 1,
            Role::Repairer => 2,
            Role::Host => 4,
        }
    }

    /// Parses `maker`, `repairer` or `host`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "maker" => Some(Role::Maker),
            "repairer" => Some(Role::Repairer),
            "host" => Some(Role::Host),
            _ => None,
        }
    }

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Maker => "maker",
            Role::Repairer => "repairer",
            Role::Host => "host",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of roles (a bit mask in CBOR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles(u64);

impl Roles {
    /// The set holding just `role`.
    pub fn of(role: Role) -> Self {
        Roles(role.bit())
    }

    /// Adds a role.
    pub fn with(self, role: Role) -> Self {
        Roles(self.0 | role.bit())
    }

    /// Whether the set holds `role`.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// The roles in the set.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        [Role::Maker, Role::Repairer, Role::Host]
            .into_iter()
            .filter(move |r| self.contains(*r))
    }
}

/// One vouched-for key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustEntry {
    /// The key.
    pub key: PublicKey,
    /// What it may sign.
    pub roles: Roles,
    /// Display name, e.g. "Karim Studio".
    pub name: String,
    /// Records dated before this are refused.
    pub valid_from: Timestamp,
    /// Records dated at or after this are refused (planned end).
    pub valid_until: Option<Timestamp>,
    /// Records dated at or after this are refused (the key was compromised or retired).
    pub revoked_at: Option<Timestamp>,
}

/// Why an entry does not cover a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Covered.
    Valid,
    /// Before `valid_from`.
    NotYetValid,
    /// At or after `valid_until`.
    Expired,
    /// At or after `revoked_at`.
    Revoked,
}

impl TrustEntry {
    /// Whether the entry covers a record dated `time`. Revocation is checked first.
    pub fn validity_at(&self, time: Timestamp) -> Validity {
        if self.revoked_at.is_some_and(|r| time >= r) {
            Validity::Revoked
        } else if time < self.valid_from {
            Validity::NotYetValid
        } else if self.valid_until.is_some_and(|u| time >= u) {
            Validity::Expired
        } else {
            Validity::Valid
        }
    }

    fn to_value(&self) -> Value {
        cbor::int_map(vec![
            (1, Some(Value::Bytes(self.key.to_bytes().to_vec()))),
            (2, Some(Value::Integer(self.roles.0.into()))),
            (3, Some(Value::Text(self.name.clone()))),
            (4, Some(Value::Integer(self.valid_from.0.into()))),
            (5, self.valid_until.map(|t| Value::Integer(t.0.into()))),
            (6, self.revoked_at.map(|t| Value::Integer(t.0.into()))),
        ])
    }

    fn from_value(value: Value) -> Result<Self, DecodeError> {
        let mut map = IntMap::new(value, "trust entry")?;
        let key =
            PublicKey::from_bytes(&map.bytes_n::<32>(1)?).map_err(|_| DecodeError::BadPublicKey)?;
        let roles = map.uint(2)?;
        if roles == 0 || roles & !7 != 0 {
            return Err(DecodeError::invalid(
                "trust entry",
                2,
                "roles must be a non-empty subset of 1|2|4",
            ));
        }
        let entry = TrustEntry {
            key,
            roles: Roles(roles),
            name: map.text(3, MAX_TEXT_BYTES)?,
            valid_from: Timestamp(map.uint(4)?),
            valid_until: map.opt_uint(5)?.map(Timestamp),
            revoked_at: map.opt_uint(6)?.map(Timestamp),
        };
        map.finish()?;
        Ok(entry)
    }
}

/// The content of a trust list, before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustListContent {
    /// Increases with every new list; a server refuses to go back.
    pub version: u64,
    /// When the operator signed it.
    pub issued_at: Timestamp,
    /// The ledger's key, which signs checkpoints and head statements (absent until set).
    pub ledger: Option<PublicKey>,
    /// The vouched-for keys, at most one entry per key.
    pub entries: Vec<TrustEntry>,
}

impl TrustListContent {
    fn to_payload(&self, operator: &PublicKey) -> Vec<u8> {
        cbor::encode(&cbor::int_map(vec![
            (1, Some(Value::Integer(TRUST_LIST_KIND.into()))),
            (2, Some(Value::Integer(self.issued_at.0.into()))),
            (3, Some(Value::Integer(self.version.into()))),
            (4, Some(Value::Bytes(operator.to_bytes().to_vec()))),
            (5, self.ledger.map(|k| Value::Bytes(k.to_bytes().to_vec()))),
            (
                6,
                Some(Value::Array(
                    self.entries.iter().map(TrustEntry::to_value).collect(),
                )),
            ),
        ]))
    }

    /// Checks every display name against the text rule of spec §3 ([`crate::text`]), so an
    /// operator can refuse a name that every verifier would refuse (`decode.bad_text`) before
    /// signing the list.
    pub fn check_text(&self) -> Result<(), DecodeError> {
        for entry in &self.entries {
            if let Some(c) = crate::text::first_forbidden(&entry.name) {
                return Err(DecodeError::BadText {
                    context: "trust entry",
                    key: 3,
                    character: u32::from(c),
                });
            }
        }
        Ok(())
    }

    /// Signs the list with the operator's key. Signing checks no rule: verification does
    /// ([`TrustListContent::check_text`] lets a signer refuse names verification would).
    pub fn sign(&self, operator: &SigningKey) -> Vec<u8> {
        cose::sign(
            operator,
            self.to_payload(&operator.public_key()),
            TRUST_LIST_AAD,
        )
    }

    /// Adds an entry, replacing any entry for the same key.
    pub fn upsert(&mut self, entry: TrustEntry) {
        self.entries.retain(|e| e.key != entry.key);
        self.entries.push(entry);
    }
}

/// A trust list whose operator signature has been verified. Only [`TrustList::verify`] and
/// [`TrustList::empty`] build one, so chain verification can only consult checked trust.
#[derive(Debug, Clone)]
pub struct TrustList {
    content: TrustListContent,
    operator: PublicKey,
    by_key_id: HashMap<KeyId, usize>,
}

impl TrustList {
    /// A list that trusts nobody, for a ledger that has not received a list yet.
    pub fn empty(operator: PublicKey) -> Self {
        TrustList {
            content: TrustListContent {
                version: 0,
                issued_at: Timestamp(0),
                ledger: None,
                entries: Vec::new(),
            },
            operator,
            by_key_id: HashMap::new(),
        }
    }

    /// Decodes and verifies a signed trust list. With `pinned_operator`, the list must be signed
    /// by that key; without, by the operator key the list names (the file is the trust anchor).
    pub fn verify(bytes: &[u8], pinned_operator: Option<&PublicKey>) -> Result<Self, TrustError> {
        let envelope = Envelope::decode(bytes, MAX_TRUST_LIST_BYTES)?;
        let value = cbor::decode_one(&envelope.payload, MAX_TRUST_LIST_BYTES)?;
        let mut map = IntMap::new(value, "trust list")?;
        let kind = map.uint(1)?;
        if kind != TRUST_LIST_KIND {
            return Err(DecodeError::UnknownKind(kind).into());
        }
        let issued_at = Timestamp(map.uint(2)?);
        let version = map.uint(3)?;
        let operator =
            PublicKey::from_bytes(&map.bytes_n::<32>(4)?).map_err(|_| DecodeError::BadPublicKey)?;
        let ledger = map
            .opt_bytes_n::<32>(5)?
            .map(|b| PublicKey::from_bytes(&b).map_err(|_| DecodeError::BadPublicKey))
            .transpose()?;
        let entries = map
            .array(6, MAX_TRUST_ENTRIES)?
            .into_iter()
            .map(TrustEntry::from_value)
            .collect::<Result<Vec<_>, _>>()?;
        map.finish()?;
        let content = TrustListContent {
            version,
            issued_at,
            ledger,
            entries,
        };
        if content.to_payload(&operator) != envelope.payload {
            return Err(DecodeError::NonCanonical.into());
        }
        if pinned_operator.is_some_and(|p| *p != operator) || envelope.kid != operator.key_id() {
            return Err(TrustError::OperatorMismatch);
        }
        if !envelope.verify(&operator, TRUST_LIST_AAD) {
            return Err(TrustError::SignatureInvalid);
        }
        let mut by_key_id = HashMap::with_capacity(content.entries.len());
        for (index, entry) in content.entries.iter().enumerate() {
            if by_key_id.insert(entry.key.key_id(), index).is_some() {
                return Err(TrustError::DuplicateEntry);
            }
        }
        Ok(TrustList {
            content,
            operator,
            by_key_id,
        })
    }

    /// The entry for a key id, if any.
    pub fn entry(&self, key_id: &KeyId) -> Option<&TrustEntry> {
        self.by_key_id
            .get(key_id)
            .and_then(|&i| self.content.entries.get(i))
    }

    /// The operator key that signed the list.
    pub fn operator(&self) -> &PublicKey {
        &self.operator
    }

    /// The list's content (version, time, ledger key, entries).
    pub fn content(&self) -> &TrustListContent {
        &self.content
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::ErrorCode as _;

    fn entry(seed: u8, roles: Roles) -> TrustEntry {
        TrustEntry {
            key: SigningKey::from_seed([seed; 32]).public_key(),
            roles,
            name: format!("party {seed}"),
            valid_from: Timestamp(100),
            valid_until: Some(Timestamp(1000)),
            revoked_at: None,
        }
    }

    fn content() -> TrustListContent {
        TrustListContent {
            version: 3,
            issued_at: Timestamp(50),
            ledger: Some(SigningKey::from_seed([9; 32]).public_key()),
            entries: vec![
                entry(1, Roles::of(Role::Maker)),
                entry(2, Roles::of(Role::Repairer).with(Role::Host)),
            ],
        }
    }

    #[test]
    fn sign_verify_round_trip() {
        let operator = SigningKey::from_seed([8; 32]);
        let bytes = content().sign(&operator);
        let list = TrustList::verify(&bytes, Some(&operator.public_key())).expect("verifies");
        assert_eq!(list.content(), &content());
        let id = SigningKey::from_seed([2; 32]).public_key().key_id();
        assert!(list.entry(&id).expect("present").roles.contains(Role::Host));
        assert!(TrustList::verify(&bytes, None).is_ok());
    }

    #[test]
    fn rejects_other_operator_tamper_and_duplicates() {
        let operator = SigningKey::from_seed([8; 32]);
        let other = SigningKey::from_seed([7; 32]).public_key();
        let bytes = content().sign(&operator);
        assert_eq!(
            TrustList::verify(&bytes, Some(&other)).err(),
            Some(TrustError::OperatorMismatch)
        );
        let mut dup = content();
        dup.entries.push(entry(1, Roles::of(Role::Host)));
        assert_eq!(
            TrustList::verify(&dup.sign(&operator), None).err(),
            Some(TrustError::DuplicateEntry)
        );
        // Flip one bit of the name "party 1" -> "party 0": decodes, signature fails.
        let mut tampered = bytes.clone();
        let pos = tampered
            .windows(7)
            .position(|w| w == b"party 1")
            .expect("name present");
        tampered[pos + 6] = b'0';
        assert_eq!(
            TrustList::verify(&tampered, None).err(),
            Some(TrustError::SignatureInvalid)
        );
    }

    #[test]
    fn display_names_with_control_or_bidi_characters_are_refused() {
        let operator = SigningKey::from_seed([8; 32]);
        assert_eq!(content().check_text(), Ok(()));
        for (name, bad) in [
            ("Karim\u{1b}[2J", 0x1b),
            ("Karim\r\nOwners", 0x0d),
            ("Studio \u{202e}oidutS", 0x202e),
            ("Fair\u{9b}", 0x9b),
        ] {
            let mut list = content();
            list.entries[1].name = name.into();
            let expected = DecodeError::BadText {
                context: "trust entry",
                key: 3,
                character: bad,
            };
            assert_eq!(list.check_text(), Err(expected.clone()), "{name:?}");
            let refused = TrustList::verify(&list.sign(&operator), None).unwrap_err();
            assert_eq!(refused, TrustError::Decode(expected), "{name:?}");
            assert_eq!(refused.code(), crate::codes::DECODE_BAD_TEXT);
        }
    }

    #[test]
    fn validity_windows() {
        let mut e = entry(1, Roles::of(Role::Maker));
        assert_eq!(e.validity_at(Timestamp(99)), Validity::NotYetValid);
        assert_eq!(e.validity_at(Timestamp(100)), Validity::Valid);
        assert_eq!(e.validity_at(Timestamp(1000)), Validity::Expired);
        e.revoked_at = Some(Timestamp(500));
        assert_eq!(e.validity_at(Timestamp(499)), Validity::Valid);
        assert_eq!(e.validity_at(Timestamp(500)), Validity::Revoked);
    }
}
