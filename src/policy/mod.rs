//! The IAM policy language: documents and their parser, compilation to an evaluation form,
//! wildcard matching, condition operators, policy variables, and the decision algorithm.

pub mod condition;
pub mod context;
mod document;
pub mod evaluate;
pub mod json;
pub mod pattern;
pub mod public;
pub mod simulate;

pub use context::{ContextValue, RequestContext};
pub use document::{
    BaseOperator, Condition, ConditionOperator, Effect, PatternList, PolicyDocument, PolicyError,
    PolicyKind, PrincipalArn, PrincipalType, Principals, SetQualifier, Statement, Version,
    parse_principal_arn, policy_size,
};
pub use evaluate::{
    CompiledPolicy, Decision, Evaluation, MatchedStatement, Outcome, Principal, PrincipalKind,
    PrincipalMatch, authorize_assume_role, authorize_by_trust, decide,
};
pub use public::is_public;
