//! Network compression by policy gradient (N2N learning): search spaces derived from a trained
//! network, whose students inherit its weights.
//!
//! - [`teacher`]: the teacher networks (VGG-style, ResNet) and a trained teacher read back
//!   from its run folder;
//! - [`anatomy`]: what in a network can be removed (units) and which widths can shrink
//!   (channel spaces), read from its graph;
//! - [`student`](mod@student): a student built from an edit of the network, with inherited weights (the
//!   L1-norm selection that filter pruning uses too);
//! - [`space`]: the `layer-removal` and `layer-shrinkage` environments.

pub mod anatomy;
pub mod space;
pub mod student;
pub mod teacher;
#[cfg(test)]
mod tests;

pub use anatomy::{Anatomy, Network};
pub use space::{Compression, RemovalConfig, ShrinkageConfig};
pub use student::{Edit, Student, student, student_arch};
pub use teacher::{TeacherConfig, TeacherKind, TrainedTeacher};
