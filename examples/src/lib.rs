//! Runnable examples of `etoro-client`, in `examples/`: one self-contained program per task (update, list, create,
//! revoke, rotate, bulk, errors, dry_run). Each starts its own local mock of eToro (`etoro-mock`) and needs
//! nothing else: copy one into a project as it is. This library is empty on purpose: nothing is shared.
