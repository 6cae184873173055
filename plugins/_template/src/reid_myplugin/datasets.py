"""An example dataset: every ``*.jpg`` under ``root`` named ``<pid>_c<cam>_<anything>.jpg``."""

from __future__ import annotations

from pathlib import Path

from reid_data import ReidDataset, Sample


class MyDataset(ReidDataset):
    name = "mydataset"

    def __init__(self, root: str | Path, **options: object) -> None:
        super().__init__(root, **options)
        files = sorted(Path(root).glob("*.jpg"))
        samples = []
        for f in files:
            pid, cam = f.stem.split("_")[:2]
            samples.append(Sample(str(f), int(pid), int(cam[1:]) - 1))
        self.train = samples
        self.query = samples[::5]
        self.gallery = [s for i, s in enumerate(samples) if i % 5]
