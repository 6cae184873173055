"""Built-in registrations of reid-data, through the same hooks as third-party plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reid_plugin import hookimpl

if TYPE_CHECKING:
    from reid_data.base import ReidDataset


@hookimpl
def reid_register_datasets() -> list[type[ReidDataset]]:
    from reid_data.datasets import (
        MSMT17,
        SYSUMM01,
        DukeMTMC,
        DukeMTMCreID,
        FolderDataset,
        Market1501,
        PersonX,
        RegDB,
        VeRi776,
        VisDA2020,
    )

    return [Market1501, DukeMTMC, DukeMTMCreID, MSMT17, VeRi776, PersonX, VisDA2020, SYSUMM01,
            RegDB, FolderDataset]
