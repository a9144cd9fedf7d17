//! `[[accounts]]`: users, roles, managed and inline policies, trust principals.

use super::*;

impl Validator<'_, '_> {
    pub(super) fn account(&mut self, index: usize, raw: &Spanned<RawAccount>) -> Option<Account> {
        let a = raw.get_ref();
        let at = format!("accounts[{index}]");
        let id = a.id.get_ref().clone();
        let account_ok = id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit());
        if !account_ok {
            self.p.error(
                &a.id.span(),
                &at,
                format!("account id \"{id}\" must be exactly 12 digits"),
            );
        }
        let partition = self.partition.clone();
        let mut ok = account_ok;

        // Managed policies first: users and roles refer to them.
        let mut policies: Vec<ManagedPolicy> = Vec::new();
        for (i, pol) in a.policies.iter().enumerate() {
            let pr = pol.get_ref();
            let pat = format!("{at}.policies[{i}] \"{}\"", pr.name.get_ref());
            let name_ok = self.name(&pr.name, &pat, "policy name", 128);
            let path_ok = self.iam_path(&pr.path, &pat);
            if policies.iter().any(|p| &p.name == pr.name.get_ref()) {
                self.p.error(
                    &pr.name.span(),
                    &pat,
                    format!(
                        "policy \"{}\" is defined twice in account {id}",
                        pr.name.get_ref()
                    ),
                );
                ok = false;
            }
            match self.document(&pr.document, PolicyKind::Identity, &pat, MAX_MANAGED_POLICY) {
                Some(document) if name_ok && path_ok => policies.push(ManagedPolicy {
                    name: pr.name.get_ref().clone(),
                    arn: format!(
                        "arn:{partition}:iam::{id}:policy{}{}",
                        pr.path.get_ref(),
                        pr.name.get_ref()
                    ),
                    description: pr.description.clone(),
                    document,
                }),
                _ => ok = false,
            }
        }

        let mut users = Vec::new();
        for (i, user) in a.users.iter().enumerate() {
            let u = user.get_ref();
            let uat = format!("{at}.users[{i}] \"{}\"", u.name.get_ref());
            if a.users[..i]
                .iter()
                .any(|o| o.get_ref().name.get_ref() == u.name.get_ref())
            {
                self.p.error(
                    &u.name.span(),
                    &uat,
                    format!(
                        "user \"{}\" is defined twice in account {id}",
                        u.name.get_ref()
                    ),
                );
                ok = false;
            }
            match self.user(&id, u, &uat, &policies) {
                Some(u) => users.push(u),
                None => ok = false,
            }
        }
        let mut roles = Vec::new();
        for (i, role) in a.roles.iter().enumerate() {
            let r = role.get_ref();
            let rat = format!("{at}.roles[{i}] \"{}\"", r.name.get_ref());
            if a.roles[..i]
                .iter()
                .any(|o| o.get_ref().name.get_ref() == r.name.get_ref())
            {
                self.p.error(
                    &r.name.span(),
                    &rat,
                    format!(
                        "role \"{}\" is defined twice in account {id}",
                        r.name.get_ref()
                    ),
                );
                ok = false;
            }
            match self.role(&id, r, &rat, &policies) {
                Some(r) => roles.push(r),
                None => ok = false,
            }
        }
        let mut oidc_providers: Vec<OidcProvider> = Vec::new();
        for (i, raw) in a.oidc_providers.iter().enumerate() {
            let pat = format!(
                "{at}.oidc_providers[{i}] \"{}\"",
                raw.get_ref().url.get_ref()
            );
            match self.oidc_provider(&id, &pat, raw) {
                Some(p) if oidc_providers.iter().any(|o| o.url == p.url) => {
                    self.p.error(
                        &raw.get_ref().url.span(),
                        &pat,
                        format!("OIDC provider {} is defined twice in account {id}", p.url),
                    );
                    ok = false;
                }
                Some(p) => oidc_providers.push(p),
                None => ok = false,
            }
        }
        ok.then_some(Account {
            id,
            policies,
            users,
            roles,
            oidc_providers,
        })
    }

    /// Resolves a managed-policy reference: a name in the same account or its full ARN.
    pub(super) fn policy_ref(
        &mut self,
        value: &Spanned<String>,
        at: &str,
        account: &str,
        policies: &[ManagedPolicy],
    ) -> Option<usize> {
        let reference = value.get_ref();
        if let Some(i) = policies
            .iter()
            .position(|p| &p.name == reference || &p.arn == reference)
        {
            return Some(i);
        }
        let hint = if reference.starts_with("arn:aws:iam::aws:policy/") {
            " (AWS-managed policies are not built in: define the policy under this account's [[accounts.policies]])"
        } else {
            ""
        };
        self.p.error(
            &value.span(),
            at,
            format!("managed policy \"{reference}\" is not defined in account {account}{hint}"),
        );
        None
    }

    pub(super) fn inline_policies(
        &mut self,
        raw: &[Spanned<RawInlinePolicy>],
        at: &str,
        max: usize,
    ) -> Option<Vec<InlinePolicy>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (i, pol) in raw.iter().enumerate() {
            let pr = pol.get_ref();
            let pat = format!("{at}.inline_policies[{i}] \"{}\"", pr.name.get_ref());
            ok &= self.name(&pr.name, &pat, "policy name", 128);
            if out
                .iter()
                .any(|p: &InlinePolicy| &p.name == pr.name.get_ref())
            {
                self.p.error(
                    &pr.name.span(),
                    &pat,
                    format!("inline policy \"{}\" is defined twice", pr.name.get_ref()),
                );
                ok = false;
            }
            match self.document(&pr.document, PolicyKind::Identity, &pat, max) {
                Some(document) => out.push(InlinePolicy {
                    name: pr.name.get_ref().clone(),
                    document,
                }),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    pub(super) fn user(
        &mut self,
        account: &str,
        u: &RawUser,
        at: &str,
        policies: &[ManagedPolicy],
    ) -> Option<User> {
        let mut ok = self.name(&u.name, at, "user name", 64);
        ok &= self.iam_path(&u.path, at);
        let name = u.name.get_ref().clone();
        let mut access_keys = Vec::new();
        for (i, key) in u.access_keys.iter().enumerate() {
            let k = key.get_ref();
            let kat = format!("{at}.access_keys[{i}]");
            let id = k.id.get_ref();
            match decode_access_key_id(id) {
                Some((KeyKind::LongTerm, acct)) if format!("{acct:012}") == account => {}
                // An invalid account id is reported once, not again for every key.
                Some((KeyKind::LongTerm, _))
                    if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) =>
                {
                    ok = false
                }
                Some((KeyKind::LongTerm, acct)) => {
                    self.p.error(&k.id.span(), &kat, format!("access key id {id} encodes account {acct:012}, not {account}; create one with `stsgate keygen --access-key {account}`"));
                    ok = false;
                }
                _ => {
                    self.p.error(&k.id.span(), &kat, format!("access key id \"{id}\" is not a long-term AWS-format id (AKIA + 16 base32 characters encoding the account); create one with `stsgate keygen --access-key {account}`"));
                    ok = false;
                }
            }
            if let Some(owner) = self
                .access_keys
                .insert(id.clone(), format!("{account}/{name}"))
            {
                self.p.error(
                    &k.id.span(),
                    &kat,
                    format!("access key id {id} is already used by {owner}"),
                );
                ok = false;
            }
            let active = match k.status.get_ref().as_str() {
                "Active" => true,
                "Inactive" => false,
                other => {
                    self.p.error(
                        &k.status.span(),
                        &kat,
                        format!("status must be \"Active\" or \"Inactive\", not \"{other}\""),
                    );
                    ok = false;
                    false
                }
            };
            match self.secret(&k.secret, &kat, "secret access key") {
                Some(secret) if (16..=128).contains(&secret.expose().len()) => {
                    access_keys.push(AccessKey {
                        id: id.clone(),
                        secret,
                        active,
                    })
                }
                Some(_) => {
                    self.p.error(
                        &k.secret.span(),
                        &kat,
                        "secret access key must be 16 to 128 characters (AWS uses 40)",
                    );
                    ok = false;
                }
                None => ok = false,
            }
        }
        let managed_policies: Vec<_> = u
            .managed_policies
            .iter()
            .map(|r| self.policy_ref(r, at, account, policies))
            .collect();
        let permissions_boundary = u
            .permissions_boundary
            .as_ref()
            .map(|r| self.policy_ref(r, &format!("{at}.permissions_boundary"), account, policies));
        let inline_policies = self.inline_policies(&u.inline_policies, at, MAX_INLINE_USER_POLICY);
        let mut mfa_devices = Vec::new();
        for (i, dev) in u.mfa_devices.iter().enumerate() {
            let d = dev.get_ref();
            let dat = format!("{at}.mfa_devices[{i}]");
            ok &= self.name(&d.name, &dat, "MFA device name", 64);
            match self.secret(&d.seed, &dat, "MFA seed") {
                Some(seed) => {
                    let cleaned: String = seed
                        .expose()
                        .chars()
                        .filter(|c| !c.is_whitespace() && *c != '=')
                        .collect::<String>()
                        .to_ascii_uppercase();
                    match data_encoding::BASE32_NOPAD.decode(cleaned.as_bytes()) {
                        Ok(bytes) if bytes.len() >= 10 => mfa_devices.push(MfaDevice {
                            serial: format!(
                                "arn:{}:iam::{account}:mfa/{}",
                                self.partition,
                                d.name.get_ref()
                            ),
                            seed: Secret::new(data_encoding::BASE32_NOPAD.encode(&bytes)),
                        }),
                        Ok(_) => {
                            self.p.error(&d.seed.span(), &dat, "MFA seed is shorter than 80 bits (16 base32 characters); authenticator apps use 160 bits");
                            ok = false;
                        }
                        Err(_) => {
                            self.p.error(
                                &d.seed.span(),
                                &dat,
                                "MFA seed must be base32 (A-Z, 2-7), as authenticator apps show it",
                            );
                            ok = false;
                        }
                    }
                }
                None => ok = false,
            }
        }
        let managed_policies: Option<Vec<usize>> = managed_policies.into_iter().collect();
        let permissions_boundary = match permissions_boundary {
            Some(Some(i)) => Some(i),
            Some(None) => return None,
            None => None,
        };
        if !ok {
            return None;
        }
        Some(User {
            arn: format!(
                "arn:{}:iam::{account}:user{}{name}",
                self.partition,
                u.path.get_ref()
            ),
            unique_id: unique_id("AIDA", account, "user", &name),
            path: u.path.get_ref().clone(),
            name,
            access_keys,
            managed_policies: managed_policies?,
            inline_policies: inline_policies?,
            permissions_boundary,
            mfa_devices,
            tags: u.tags.clone(),
        })
    }

    pub(super) fn role(
        &mut self,
        account: &str,
        r: &RawRole,
        at: &str,
        policies: &[ManagedPolicy],
    ) -> Option<Role> {
        let mut ok = self.name(&r.name, at, "role name", 64);
        ok &= self.iam_path(&r.path, at);
        let max = *r.max_session_duration.get_ref();
        if !(3600..=43200).contains(&max) {
            self.p.error(
                &r.max_session_duration.span(),
                at,
                format!("max_session_duration must be between 3600 and 43200 seconds, not {max}"),
            );
            ok = false;
        }
        let trust = self.document(
            &r.trust_policy,
            PolicyKind::Trust,
            &format!("{at}.trust_policy"),
            MAX_TRUST_POLICY,
        );
        let managed: Option<Vec<usize>> = r
            .managed_policies
            .iter()
            .map(|p| self.policy_ref(p, at, account, policies))
            .collect();
        let boundary = r
            .permissions_boundary
            .as_ref()
            .map(|p| self.policy_ref(p, &format!("{at}.permissions_boundary"), account, policies));
        let inline = self.inline_policies(&r.inline_policies, at, MAX_INLINE_ROLE_POLICY);
        let (Some(trust), Some(managed), Some(inline)) = (trust, managed, inline) else {
            return None;
        };
        let permissions_boundary = match boundary {
            Some(Some(i)) => Some(i),
            Some(None) => return None,
            None => None,
        };
        if !ok {
            return None;
        }

        // Lints: who may assume this role, and what it then gets.
        if let Some(root) = lint::trusts_account_root(&trust, account) {
            let admin = managed
                .iter()
                .any(|&i| lint::allows_everything(&policies[i].document))
                || inline.iter().any(|p| lint::allows_everything(&p.document));
            if admin {
                self.p.warning(
                    &r.trust_policy.span(),
                    at,
                    format!(
                        "role \"{}\" is trusted by the account root (\"{root}\") and its permissions allow \"*\" on \"*\": any principal of the account whose own policy allows sts:AssumeRole on it becomes an administrator (the classic AssumeRole escalation); name the users or roles that may assume it instead",
                        r.name.get_ref()
                    ),
                );
            }
        }
        if lint::trusts_everyone(&trust) {
            self.p.warning(
                &r.trust_policy.span(),
                at,
                format!(
                    "the trust policy of role \"{}\" lets anyone (Principal \"*\") assume it",
                    r.name.get_ref()
                ),
            );
        }
        self.trust_checks.push(TrustCheck {
            span: r.trust_policy.span(),
            at: format!("{at}.trust_policy"),
            principals: lint::allowed_aws_principals(&trust).collect(),
            federated: lint::allowed_principals(&trust, crate::policy::PrincipalType::Federated)
                .collect(),
        });

        let name = r.name.get_ref().clone();
        Some(Role {
            arn: format!(
                "arn:{}:iam::{account}:role{}{name}",
                self.partition,
                r.path.get_ref()
            ),
            unique_id: unique_id("AROA", account, "role", &name),
            path: r.path.get_ref().clone(),
            name,
            trust_policy: trust,
            managed_policies: managed,
            inline_policies: inline,
            permissions_boundary,
            max_session_duration: Duration::from_secs(max),
            tags: r.tags.clone(),
        })
    }

    /// Like IAM, refuse trust policies that name a user or role of a known account that does
    /// not exist ("Invalid principal in policy").
    pub(super) fn check_trust_principals(&mut self, accounts: &[Account]) {
        let checks = std::mem::take(&mut self.trust_checks);
        for check in checks {
            for principal in &check.principals {
                let missing = match parse_principal_arn(principal) {
                    Some(PrincipalArn::User { account, .. }) => accounts
                        .iter()
                        .find(|a| a.id == account)
                        .is_some_and(|a| !a.users.iter().any(|u| &u.arn == principal)),
                    Some(PrincipalArn::Role { account, .. }) => accounts
                        .iter()
                        .find(|a| a.id == account)
                        .is_some_and(|a| !a.roles.iter().any(|r| &r.arn == principal)),
                    _ => false,
                };
                if missing {
                    self.p.error(&check.span, &check.at, format!("Invalid principal in policy: \"AWS\":\"{principal}\" (no such user or role is configured)"));
                }
            }
            for provider in &check.federated {
                let account = provider
                    .split(':')
                    .nth(4)
                    .filter(|_| provider.contains(":oidc-provider/"));
                let known = account.and_then(|id| accounts.iter().find(|a| a.id == id));
                let found =
                    known.is_some_and(|a| a.oidc_providers.iter().any(|p| &p.arn == provider));
                if !found && (account.is_none() || known.is_some()) {
                    self.p.error(&check.span, &check.at, format!("Invalid principal in policy: \"Federated\":\"{provider}\" (web identity tokens come only from the providers of [[accounts.oidc_providers]], named by their ARN arn:aws:iam::<account>:oidc-provider/<host/path>)"));
                }
            }
        }
    }

    /// Reads a policy document (inline JSON or `file:PATH`) and parses it as `kind`.
    pub(super) fn document(
        &mut self,
        value: &Spanned<String>,
        kind: PolicyKind,
        at: &str,
        max_size: usize,
    ) -> Option<PolicyDocument> {
        self.document_text(value, kind, at, max_size)
            .map(|(doc, _)| doc)
    }

    /// As [`Self::document`], with the text it was parsed from (read once, so what is shown is
    /// what is enforced).
    pub(super) fn document_text(
        &mut self,
        value: &Spanned<String>,
        kind: PolicyKind,
        at: &str,
        max_size: usize,
    ) -> Option<(PolicyDocument, String)> {
        let raw = value.get_ref();
        let (text, from_file) = match raw.strip_prefix("file:") {
            Some(path) => {
                let full = self.base.join(path);
                self.files.push(full.clone());
                match std::fs::read_to_string(&full) {
                    Ok(t) => (t, Some(full)),
                    Err(e) => {
                        self.p.error(
                            &value.span(),
                            at,
                            format!("cannot read policy file {}: {e}", full.display()),
                        );
                        return None;
                    }
                }
            }
            None => (raw.clone(), None),
        };
        let size = policy_size(&text);
        if size > max_size {
            self.p.error(&value.span(), at, format!("the {} policy has {size} characters (not counting whitespace); IAM allows at most {max_size}", kind.label()));
            return None;
        }
        match PolicyDocument::parse(&text, kind)
            .and_then(|doc| CompiledPolicy::compile("check", &doc, kind).map(|_| doc))
        {
            Ok(doc) => Some((doc, text)),
            Err(mut e) => {
                let json_position = e.position.take();
                match (json_position, &from_file) {
                    (Some((line, column)), None) => {
                        // Map the position inside the embedded JSON onto the TOML file.
                        let start = self.p.line_col(value.span().start);
                        let token = self.p.source(&value.span());
                        let first_line_skipped = token.starts_with("'''\n")
                            || token.starts_with("\"\"\"\n")
                            || token.starts_with("'''\r\n")
                            || token.starts_with("\"\"\"\r\n");
                        let delimiter = if token.starts_with("'''") || token.starts_with("\"\"\"") {
                            3
                        } else {
                            1
                        };
                        let position = if first_line_skipped {
                            (start.0 + line, column)
                        } else if line == 1 {
                            (start.0, start.1 + delimiter + column - 1)
                        } else {
                            (start.0 + line - 1, column)
                        };
                        self.p
                            .error_at(position, at, format!("MalformedPolicyDocument: {e}"));
                    }
                    (Some((line, column)), Some(file)) => {
                        self.p.error(
                            &value.span(),
                            at,
                            format!(
                                "MalformedPolicyDocument in {} line {line} column {column}: {e}",
                                file.display()
                            ),
                        );
                    }
                    (None, Some(file)) => self.p.error(
                        &value.span(),
                        at,
                        format!("MalformedPolicyDocument in {}: {e}", file.display()),
                    ),
                    (None, None) => {
                        self.p
                            .error(&value.span(), at, format!("MalformedPolicyDocument: {e}"))
                    }
                }
                None
            }
        }
    }
}
