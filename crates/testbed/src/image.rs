//! Container images for the registry tests: an OCI image layout written by hand (an empty tar
//! as its one layer, a config carrying a label), small enough to push in milliseconds with
//! `skopeo copy`. Two layouts with different labels are different images.

use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::{Result, io};

/// Writes an OCI image layout to `dir` holding one image, tagged `latest` in its index, whose
/// config carries the label `tripline.test=<label>`. Returns the manifest's digest.
pub fn oci_layout(dir: &Path, label: &str) -> Result<String> {
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(io("creating the layout's blobs"))?;
    let write_blob = |bytes: &[u8]| -> Result<(String, usize)> {
        let hex = hex(bytes);
        std::fs::write(blobs.join(&hex), bytes).map_err(io("writing a blob"))?;
        Ok((format!("sha256:{hex}"), bytes.len()))
    };
    // An empty tar archive: two zero blocks.
    let (layer, layer_size) = write_blob(&[0u8; 1024])?;
    let label = label.replace(['"', '\\'], "");
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"tripline.test":"{label}"}}}},"rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
    );
    let (config, config_size) = write_blob(config.as_bytes())?;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
    );
    let (manifest, manifest_size) = write_blob(manifest.as_bytes())?;
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest}","size":{manifest_size},"annotations":{{"org.opencontainers.image.ref.name":"latest"}}}}]}}"#
    );
    std::fs::write(dir.join("index.json"), index).map_err(io("writing index.json"))?;
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(io("writing oci-layout"))?;
    Ok(manifest)
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
