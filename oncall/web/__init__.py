"""The Reflex web app for responders: pages, state and components over the service layer."""
