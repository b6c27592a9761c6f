//! `archforge list`: every registered environment, controller, evaluator and objective.

use crate::registry;
use anyhow::Result;

/// Prints the registry.
pub fn main() -> Result<()> {
    let section = |title: &str, entries: &[(&str, &str)]| {
        println!("{title}:");
        for (name, about) in entries {
            println!("  {name:<16} {about}");
        }
    };
    section("environments", registry::ENVIRONMENTS);
    section("controllers", registry::CONTROLLERS);
    section("evaluators", registry::EVALUATORS);
    section("objectives", archforge::objective::RewardKind::ALL);
    Ok(())
}
