"""The README's high-availability example: one file for every node, a data directory of
its own per node (from the environment), one database, shared storage and previews."""

from __future__ import annotations

from pathlib import Path

from garde.config import load_settings

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ha-region.toml"


def test_every_node_reads_the_same_file_with_its_own_data_dir(tmp_path: Path) -> None:
    a = load_settings(EXAMPLE, {"GARDE_DATA_DIR": str(tmp_path / "node-a")})
    b = load_settings(EXAMPLE, {"GARDE_DATA_DIR": str(tmp_path / "node-b")})
    assert a.data_dir != b.data_dir  # the pid files and logs apart
    assert a.database_url == b.database_url
    assert a.effective_database_url.startswith("postgresql")
    shared = Path("/srv/garde-shared")
    for node in (a, b):
        assert node.gateway.storage_dir == shared / "storage"  # absolute: not under data_dir
        assert node.previews.dir == shared / "previews"
        assert node.scheduler.leader_lease_s >= 2 * node.scheduler.leader_renew_s
        assert node.scheduler.store_watch_s <= 30  # a roster edit reaches it within 30 s
        assert node.gateway.stroke_stable_age_s < node.gateway.stable_age_s
