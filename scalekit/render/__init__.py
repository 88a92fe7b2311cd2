"""Stage 7, render: jobs, kernels, papermill execution, nbconvert export, publishing, the site."""
