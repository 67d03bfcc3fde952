"""The dataset doctor: duplicates, leaks, conflicting labels, likely label
errors, imbalance and outliers, found before training.

`run_doctor(spec, reporter, config)` is the job; `DoctorReport` its result.
"""
from tlstudio.core.doctor.feature_pass import FeatureConfig
from tlstudio.core.doctor.findings import KINDS, TITLES, DoctorFindings, DoctorReport, Finding
from tlstudio.core.doctor.job import DoctorConfig, run_doctor

__all__ = ["KINDS", "TITLES", "DoctorConfig", "DoctorFindings", "DoctorReport", "FeatureConfig", "Finding",
           "run_doctor"]
