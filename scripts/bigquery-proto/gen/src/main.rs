//! `bigquery-proto-gen DESCRIPTORS OUT_DIR`: prost's Rust code for the messages of a
//! FileDescriptorSet, well-known types included (so the code needs only `prost`).

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, descriptors, out_dir] = args.as_slice() else {
        return Err("usage: bigquery-proto-gen DESCRIPTORS OUT_DIR".into());
    };
    let set = prost_types::FileDescriptorSet::decode(std::fs::read(descriptors)?.as_slice())?;
    prost_build::Config::new()
        .out_dir(out_dir)
        .compile_well_known_types()
        .compile_fds(set)?;
    Ok(())
}
