// ACI quota usage is a subscription-level read (.../locations/{region}/usages): a custom role with that one action,
// so the capacity function can report quota without giving the app Reader (or more) on the subscription.
targetScope = 'subscription'

param identityPrincipalId string

resource usageReader 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'aci-connector-usage-reader')
  properties: {
    roleName: 'ACI connector usage reader (${subscription().subscriptionId})'
    description: 'Reads Azure Container Instances quota usage per region; nothing else.'
    type: 'customRole'
    permissions: [
      {
        actions: [
          'Microsoft.ContainerInstance/locations/usages/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource usageReaderAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, identityPrincipalId, 'aci-connector-usage-reader')
  properties: {
    roleDefinitionId: usageReader.id
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}
