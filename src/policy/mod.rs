//! The IAM policy language: documents and their parser.
//!
//! Compilation to an evaluation form and the decision algorithm build on this model.

mod document;
pub mod json;

pub use document::{
    BaseOperator, Condition, ConditionOperator, Effect, PatternList, PolicyDocument, PolicyError,
    PolicyKind, PrincipalArn, PrincipalType, Principals, SetQualifier, Statement, Version,
    parse_principal_arn, policy_size,
};
