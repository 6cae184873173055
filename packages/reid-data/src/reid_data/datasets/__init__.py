"""The built-in dataset loaders (registered through ``reid_register_datasets``)."""

from reid_data.datasets.crossmodal import SYSUMM01 as SYSUMM01
from reid_data.datasets.crossmodal import RegDB as RegDB
from reid_data.datasets.crossmodal import sysu_gallery as sysu_gallery
from reid_data.datasets.folder import FolderDataset as FolderDataset
from reid_data.datasets.market import DukeMTMC as DukeMTMC
from reid_data.datasets.market import DukeMTMCreID as DukeMTMCreID
from reid_data.datasets.market import Market1501 as Market1501
from reid_data.datasets.market import MarketStyleDataset as MarketStyleDataset
from reid_data.datasets.market import PersonX as PersonX
from reid_data.datasets.market import VeRi776 as VeRi776
from reid_data.datasets.msmt import MSMT17 as MSMT17
from reid_data.datasets.visda import VisDA2020 as VisDA2020
