"""An example dataset: ``MyData/{train,query,gallery}/<pid>_c<cam>_<anything>.jpg``."""

from __future__ import annotations

from pathlib import Path

from reid_data import Layout, ReidDataset, Sample, relabel


class MyDataset(ReidDataset):
    name = "mydataset"
    # root/MyData, root/mydataset/MyData or the MyData folder itself are all found
    layouts = (Layout("MyData", ("MyData",), ("train", "query", "gallery")),)
    keys = ("mydataset",)

    def load(self) -> None:
        def parse(folder: str) -> list[Sample]:
            out = []
            for f in sorted((Path(self.dataset_dir) / folder).glob("*.jpg")):
                pid, cam = f.stem.split("_")[:2]
                out.append(Sample(str(f), int(pid), int(cam[1:]) - 1))
            return out

        self.train = relabel(parse("train"))
        self.query = parse("query")
        self.gallery = parse("gallery")
