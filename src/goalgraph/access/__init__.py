"""Who may see and do what: authentication, the access policy, licences and the feature gate."""
